// Built-in prototypes of the common C library functions, for objects without
// debug information (Debian's libc.so.6 has none unless libc6-dbg is
// installed). ltrace's libc prototypes are the reference for what is covered;
// flags are shown in hex, modes in octal. Debug information and user specs
// take precedence over these.
import type { Signature } from './model';
import { parsePrototypes } from './spec';

const LIBC = `
// strings
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t maxlen);
int strcmp(const char *s1, const char *s2);
int strncmp(const char *s1, const char *s2, size_t n);
int strcasecmp(const char *s1, const char *s2);
int strncasecmp(const char *s1, const char *s2, size_t n);
int strcoll(const char *s1, const char *s2);
char *strcpy(char *dest, const char *src);
char *strncpy(char *dest, const char *src, size_t n);
char *stpcpy(char *dest, const char *src);
char *strcat(char *dest, const char *src);
char *strncat(char *dest, const char *src, size_t n);
char *strchr(const char *s, char c);
char *strrchr(const char *s, char c);
char *strchrnul(const char *s, char c);
char *strstr(const char *haystack, const char *needle);
char *strcasestr(const char *haystack, const char *needle);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);
char *strtok(char *s, const char *delim);
char *strtok_r(char *s, const char *delim, void *saveptr);
char *strsep(void *stringp, const char *delim);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);
char *strpbrk(const char *s, const char *accept);
char *strerror(int errnum);
char *strsignal(int sig);
long strtol(const char *nptr, void *endptr, int base);
unsigned long strtoul(const char *nptr, void *endptr, int base);
long strtoll(const char *nptr, void *endptr, int base);
unsigned long strtoull(const char *nptr, void *endptr, int base);
double strtod(const char *nptr, void *endptr);
float strtof(const char *nptr, void *endptr);
int atoi(const char *nptr);
long atol(const char *nptr);
long atoll(const char *nptr);
double atof(const char *nptr);
int toupper(char c);
int tolower(char c);
int isatty(int fd);
// memory
void *memcpy(void *dest, const void *src, size_t n);
void *mempcpy(void *dest, const void *src, size_t n);
void *memmove(void *dest, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *s1, const void *s2, size_t n);
void *memchr(const void *s, int c, size_t n);
void *memrchr(const void *s, int c, size_t n);
void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
void *malloc(size_t size);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *ptr, size_t size);
void *reallocarray(void *ptr, size_t nmemb, size_t size);
void free(void *ptr);
int posix_memalign(void *memptr, size_t alignment, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size);
void *valloc(size_t size);
size_t malloc_usable_size(void *ptr);
void *mmap(void *addr, size_t length, hex32 prot, hex32 flags, int fd, off_t offset);
void *mmap64(void *addr, size_t length, hex32 prot, hex32 flags, int fd, off_t offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t len, hex32 prot);
int madvise(void *addr, size_t length, int advice);
void *sbrk(long increment);
int brk(void *addr);
// files
int open(const char *pathname, hex32 flags, ...);
int open64(const char *pathname, hex32 flags, ...);
int openat(int dirfd, const char *pathname, hex32 flags, ...);
int creat(const char *pathname, mode_t mode);
int close(int fd);
ssize_t read(int fd, void *buf, size_t count);
ssize_t write(int fd, const void *buf, size_t count);
ssize_t pread(int fd, void *buf, size_t count, off_t offset);
ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset);
ssize_t pread64(int fd, void *buf, size_t count, off_t offset);
ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset);
ssize_t readv(int fd, const void *iov, int iovcnt);
ssize_t writev(int fd, const void *iov, int iovcnt);
off_t lseek(int fd, off_t offset, int whence);
off_t lseek64(int fd, off_t offset, int whence);
int fsync(int fd);
int fdatasync(int fd);
int ftruncate(int fd, off_t length);
int truncate(const char *path, off_t length);
int unlink(const char *pathname);
int unlinkat(int dirfd, const char *pathname, hex32 flags);
int rename(const char *oldpath, const char *newpath);
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int mkdir(const char *pathname, mode_t mode);
int mkdirat(int dirfd, const char *pathname, mode_t mode);
int rmdir(const char *pathname);
int chdir(const char *path);
int fchdir(int fd);
char *getcwd(char *buf, size_t size);
int access(const char *pathname, int mode);
int faccessat(int dirfd, const char *pathname, int mode, hex32 flags);
int stat(const char *pathname, struct stat *statbuf);
int lstat(const char *pathname, struct stat *statbuf);
int fstat(int fd, struct stat *statbuf);
int fstatat(int dirfd, const char *pathname, struct stat *statbuf, hex32 flags);
int stat64(const char *pathname, struct stat *statbuf);
int lstat64(const char *pathname, struct stat *statbuf);
int fstat64(int fd, struct stat *statbuf);
int chmod(const char *pathname, mode_t mode);
int fchmod(int fd, mode_t mode);
int chown(const char *pathname, uid_t owner, gid_t group);
int fchown(int fd, uid_t owner, gid_t group);
mode_t umask(mode_t mask);
int link(const char *oldpath, const char *newpath);
int symlink(const char *target, const char *linkpath);
ssize_t readlink(const char *pathname, char *buf, size_t bufsiz);
int dup(int oldfd);
int dup2(int oldfd, int newfd);
int dup3(int oldfd, int newfd, hex32 flags);
int pipe(int *pipefd);
int pipe2(int *pipefd, hex32 flags);
int fcntl(int fd, int cmd, ...);
int ioctl(int fd, hex request, ...);
int flock(int fd, int operation);
DIR *opendir(const char *name);
DIR *fdopendir(int fd);
struct dirent *readdir(DIR *dirp);
int closedir(DIR *dirp);
char *realpath(const char *path, char *resolved_path);
// stdio
FILE *fopen(const char *pathname, const char *mode);
FILE *fopen64(const char *pathname, const char *mode);
FILE *fdopen(int fd, const char *mode);
FILE *freopen(const char *pathname, const char *mode, FILE *stream);
int fclose(FILE *stream);
size_t fread(void *ptr, size_t size, size_t nmemb, FILE *stream);
size_t fwrite(const void *ptr, size_t size, size_t nmemb, FILE *stream);
char *fgets(char *s, int size, FILE *stream);
int fgetc(FILE *stream);
int getc(FILE *stream);
int getchar(void);
int fputs(const char *s, FILE *stream);
int puts(const char *s);
int fputc(char c, FILE *stream);
int putc(char c, FILE *stream);
int putchar(char c);
int ungetc(char c, FILE *stream);
int fflush(FILE *stream);
int fseek(FILE *stream, long offset, int whence);
long ftell(FILE *stream);
void rewind(FILE *stream);
int fileno(FILE *stream);
int feof(FILE *stream);
int ferror(FILE *stream);
int setvbuf(FILE *stream, char *buf, int mode, size_t size);
ssize_t getline(void *lineptr, size_t *n, FILE *stream);
int printf(const char *format, ...);
int fprintf(FILE *stream, const char *format, ...);
int dprintf(int fd, const char *format, ...);
int sprintf(char *str, const char *format, ...);
int snprintf(char *str, size_t size, const char *format, ...);
int asprintf(void *strp, const char *format, ...);
int scanf(const char *format, ...);
int sscanf(const char *str, const char *format, ...);
int fscanf(FILE *stream, const char *format, ...);
int remove(const char *pathname);
void perror(const char *s);
// processes
pid_t getpid(void);
pid_t getppid(void);
pid_t gettid(void);
pid_t getpgrp(void);
pid_t setsid(void);
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int setuid(uid_t uid);
int setgid(gid_t gid);
pid_t fork(void);
pid_t vfork(void);
int execve(const char *pathname, void *argv, void *envp);
int execv(const char *pathname, void *argv);
int execvp(const char *file, void *argv);
int execvpe(const char *file, void *argv, void *envp);
int execl(const char *pathname, const char *arg, ...);
int execlp(const char *file, const char *arg, ...);
int system(const char *command);
void exit(int status);
void _exit(int status);
void _Exit(int status);
void abort(void);
int atexit(void (*function)(void));
pid_t wait(int *wstatus);
pid_t waitpid(pid_t pid, int *wstatus, hex32 options);
int kill(pid_t pid, int sig);
int raise(int sig);
int killpg(int pgrp, int sig);
sighandler_t signal(int signum, sighandler_t handler);
int sigaction(int signum, const struct sigaction *act, struct sigaction *oldact);
int sigprocmask(int how, const void *set, void *oldset);
int pause(void);
unsigned int alarm(unsigned int seconds);
char *getenv(const char *name);
char *secure_getenv(const char *name);
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);
int putenv(char *string);
int prctl(int option, hex arg2, hex arg3, hex arg4, hex arg5);
long sysconf(int name);
int getrlimit(int resource, void *rlim);
int setrlimit(int resource, const void *rlim);
void *dlopen(const char *filename, hex32 flags);
void *dlsym(void *handle, const char *symbol);
void *dlvsym(void *handle, const char *symbol, const char *version);
int dlclose(void *handle);
char *dlerror(void);
int pthread_create(void *thread, const void *attr, void *(*start_routine)(void *), void *arg);
int pthread_join(unsigned long thread, void *retval);
int pthread_detach(unsigned long thread);
unsigned long pthread_self(void);
int pthread_mutex_lock(void *mutex);
int pthread_mutex_trylock(void *mutex);
int pthread_mutex_unlock(void *mutex);
int pthread_cond_wait(void *cond, void *mutex);
int pthread_cond_signal(void *cond);
int pthread_cond_broadcast(void *cond);
// time
unsigned int sleep(unsigned int seconds);
int usleep(useconds_t usec);
int nanosleep(const struct timespec *req, struct timespec *rem);
int clock_nanosleep(clockid_t clockid, hex32 flags, const struct timespec *request, struct timespec *remain);
time_t time(time_t *tloc);
int gettimeofday(struct timeval *tv, void *tz);
int clock_gettime(clockid_t clockid, struct timespec *tp);
int clock_getres(clockid_t clockid, struct timespec *res);
clock_t clock(void);
struct tm *localtime(const time_t *timep);
struct tm *localtime_r(const time_t *timep, struct tm *result);
struct tm *gmtime(const time_t *timep);
struct tm *gmtime_r(const time_t *timep, struct tm *result);
time_t mktime(struct tm *tm);
size_t strftime(char *s, size_t max, const char *format, const struct tm *tm);
char *ctime(const time_t *timep);
// sockets and polling
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int *sv);
int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen);
int listen(int sockfd, int backlog);
int accept(int sockfd, struct sockaddr *addr, socklen_t *addrlen);
int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, hex32 flags);
int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t send(int sockfd, const void *buf, size_t len, hex32 flags);
ssize_t recv(int sockfd, void *buf, size_t len, hex32 flags);
ssize_t sendto(int sockfd, const void *buf, size_t len, hex32 flags, const struct sockaddr *dest_addr, socklen_t addrlen);
ssize_t recvfrom(int sockfd, void *buf, size_t len, hex32 flags, struct sockaddr *src_addr, socklen_t *addrlen);
ssize_t sendmsg(int sockfd, const void *msg, hex32 flags);
ssize_t recvmsg(int sockfd, void *msg, hex32 flags);
int shutdown(int sockfd, int how);
int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen);
int getaddrinfo(const char *node, const char *service, const void *hints, void *res);
int poll(void *fds, nfds_t nfds, int timeout);
int select(int nfds, void *readfds, void *writefds, void *exceptfds, struct timeval *timeout);
int epoll_create1(hex32 flags);
int epoll_ctl(int epfd, int op, int fd, void *event);
int epoll_wait(int epfd, void *events, int maxevents, int timeout);
// misc
void qsort(void *base, size_t nmemb, size_t size, void *compar);
void *bsearch(const void *key, const void *base, size_t nmemb, size_t size, void *compar);
int rand(void);
void srand(unsigned int seed);
long random(void);
void srandom(unsigned int seed);
int abs(int j);
long labs(long j);
char *setlocale(int category, const char *locale);
int getopt(int argc, void *argv, const char *optstring);
ssize_t getrandom(void *buf, size_t buflen, hex32 flags);
// libm
double sqrt(double x);
double pow(double x, double y);
double exp(double x);
double log(double x);
double log10(double x);
double sin(double x);
double cos(double x);
double tan(double x);
double atan2(double y, double x);
double floor(double x);
double ceil(double x);
double fabs(double x);
double fmod(double x, double y);
float sqrtf(float x);
float powf(float x, float y);
`;

/**
 * Each declaration's line by the name it declares (the last word before its
 * first '(', as parseDeclaration reads it; a later line wins). A line is
 * parsed when its function is first asked for: in fast mode that is while
 * the program waits to start.
 */
let lines: Map<string, string> | null = null;
const parsed = new Map<string, Signature | null>();

/** The built-in prototype of the C library function named `name`, or null. */
export function builtinPrototype(name: string): Signature | null {
  const done = parsed.get(name);
  if (done !== undefined) return done;
  if (!lines) {
    lines = new Map();
    for (const line of LIBC.split('\n')) {
      const l = line.replace(/\/\/.*$/, '').trim();
      const open = l.indexOf('(');
      const m = open > 0 ? /^(.*?)\s*([^\s*]+)$/.exec(l.slice(0, open).trim()) : null;
      if (m) lines.set(m[2], l);
    }
  }
  const line = lines.get(name);
  const d = line ? parsePrototypes(line, 'prototype', 'built-in prototypes')[0] : undefined;
  const sig = d && d.pattern === name ? d.sig : null;
  parsed.set(name, sig);
  return sig;
}

/** Every built-in declaration, parsed (the tests check them all). */
export function builtinPrototypes(): { pattern: string; sig: Signature }[] {
  return parsePrototypes(LIBC, 'prototype', 'built-in prototypes');
}
