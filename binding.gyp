{
  "targets": [
    {
      "target_name": "rethook",
      "sources": [
        "native/addon.cc",
        "native/process.cc",
        "native/breakpoints.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["target_arch=='x64'", { "sources": ["native/arch/x86_64.cc", "native/arch/x86_64_decode.cc"] }],
        ["target_arch=='arm64'", { "sources": ["native/arch/arm64.cc"] }]
      ]
    }
  ]
}
