// LD_PRELOAD crash point for crash_inject.sh: stops the actuator at an exact place in its
// request path so that the harness can SIGKILL it there. Test-only; never linked into a daemon.
// The actuator journals with write(2) + fdatasync(2) and writes a sysctl with one pwrite(2), so
// for one request the order is: write INTENT, fdatasync, pwrite sysctl, write OUTCOME, fdatasync.
//   CRASH_POINT=before-write      at the Nth sysctl pwrite, before it: INTENT durable, no write
//   CRASH_POINT=after-write       at the Nth sysctl pwrite, after it: written, no OUTCOME yet
//   CRASH_POINT=outcome-unsynced  at the fdatasync after the Nth pwrite: OUTCOME written, unsynced
// N is CRASH_AFTER_WRITES (1 if unset). At the point the process prints one line to stderr,
// "crash_point: hit POINT write N", and spins without a system call until it is killed: the
// actuator's seccomp filter allows write but not pause or kill, and spinning needs neither.
// Only the process that loaded the shim first counts (the privileged writer, a fork, does not).
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum point {
  NONE,
  BEFORE_WRITE,
  AFTER_WRITE,
  OUTCOME_UNSYNCED
};

static enum point crashPoint = NONE;
static long crashAt = 1;
static pid_t owner = 0;
static atomic_long writes = 0;

__attribute__((constructor)) static void configure(void) {
  const char* text = getenv("CRASH_POINT");
  const char* at = getenv("CRASH_AFTER_WRITES");
  owner = (pid_t)syscall(SYS_getpid);
  if (text == NULL) {
    return;
  }
  crashPoint = strcmp(text, "before-write") == 0       ? BEFORE_WRITE
               : strcmp(text, "after-write") == 0      ? AFTER_WRITE
               : strcmp(text, "outcome-unsynced") == 0 ? OUTCOME_UNSYNCED
                                                       : NONE;
  if (at != NULL && atol(at) > 0) {
    crashAt = atol(at);
  }
}

static int armed(enum point p) {
  return crashPoint == p && (pid_t)syscall(SYS_getpid) == owner;
}

static void hang(const char* name) {
  char line[96] = "crash_point: hit ";
  strncat(line, name, 40);
  strcat(line, " write ");
  char digits[24];
  int n = 0;
  for (long v = crashAt; v > 0 && n < 20; v /= 10) {
    digits[n++] = (char)('0' + v % 10);
  }
  size_t len = strlen(line);
  while (n > 0) {
    line[len++] = digits[--n];
  }
  line[len++] = '\n';
  ssize_t ignored = syscall(SYS_write, STDERR_FILENO, line, len);
  (void)ignored;
  for (;;) {
    __asm__ volatile("" ::: "memory");
  }
}

static ssize_t interceptPwrite(int fd, const void* buf, size_t count, off_t offset) {
  long n = atomic_fetch_add(&writes, 1) + 1;
  if (n == crashAt && armed(BEFORE_WRITE)) {
    hang("before-write");
  }
  ssize_t done = syscall(SYS_pwrite64, fd, buf, count, offset);
  if (n == crashAt && armed(AFTER_WRITE)) {
    hang("after-write");
  }
  return done;
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  return interceptPwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  return interceptPwrite(fd, buf, count, offset);
}

int fdatasync(int fd) {
  if (atomic_load(&writes) == crashAt && armed(OUTCOME_UNSYNCED)) {
    hang("outcome-unsynced");
  }
  return (int)syscall(SYS_fdatasync, fd);
}
