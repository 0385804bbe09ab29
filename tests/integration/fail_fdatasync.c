// LD_PRELOAD fault injection for the journal's durability path (fsync_failure.sh).
// fdatasync() and fsync() share one call counter; calls 1..N (N = FAIL_FDATASYNC_AFTER) go to
// the kernel, every later call fails with EIO without a system call. Unset or invalid: never
// fails. The actuator is under a seccomp KILL_PROCESS filter by the time it journals requests,
// so after the first call this shim makes only calls the filter allows: write (to stderr, one
// line per call) and fdatasync itself. No dlsym: the real calls go through syscall(2).
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long failAfter(void) {
  // -2: not read yet; -1: never fail. getenv makes no system call, so the jail does not matter.
  static atomic_long cached = -2;
  long value = atomic_load(&cached);
  if (value == -2) {
    const char* text = getenv("FAIL_FDATASYNC_AFTER");
    char* end = NULL;
    value = -1;
    if (text != NULL && *text != '\0') {
      long parsed = strtol(text, &end, 10);
      if (*end == '\0' && parsed >= 0) {
        value = parsed;
      }
    }
    atomic_store(&cached, value);
  }
  return value;
}

static void report(const char* name, int fd, long call, int injected) {
  char line[128];
  int n = snprintf(line,
                   sizeof(line),
                   "fail_fdatasync: %s(fd %d) call %ld: %s\n",
                   name,
                   fd,
                   call,
                   injected ? "injected EIO" : "passed through");
  if (n > 0) {
    ssize_t ignored =
        write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
    (void)ignored;
  }
}

static int intercept(const char* name, long number, int fd) {
  static atomic_long calls = 0;
  long call = atomic_fetch_add(&calls, 1) + 1;
  long after = failAfter();
  if (after >= 0 && call > after) {
    report(name, fd, call, 1);
    errno = EIO;
    return -1;
  }
  report(name, fd, call, 0);
  return (int)syscall(number, fd);
}

int fdatasync(int fd) {
  return intercept("fdatasync", SYS_fdatasync, fd);
}

int fsync(int fd) {
  return intercept("fsync", SYS_fsync, fd);
}
