// jest globalSetup: fixtures are real programs built by the system compiler.
module.exports = async () => {
  require('./build-fixtures').build();
};
