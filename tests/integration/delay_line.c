// A user-space delay line for the tcp_conn test and bench: the kernel here has no netem and
// honours no departure time without fq (kernel-hooks-and-caps.md §5), so real propagation delay
// comes from a TUN device. Every packet the kernel routes out of the device is written back into
// it DELAY_US later; it is then received on the device and routed on, so the caller steers one
// direction of a path through it with a policy rule (impair_lib.sh). FIFO, no reordering; when
// QUEUE_SLOTS packets wait, a new one is dropped, as a tail-drop queue would.
// Usage: delay_line IFNAME DELAY_US. Creates IFNAME (gone when this process exits), prints
// "ready" once it exists, and on SIGTERM/SIGINT prints its counters and exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

// 4096 x 2 KiB: at 200 Mbit/s of 1500-byte packets (~17k/s) that is 240 ms of one direction.
#define QUEUE_SLOTS 4096
#define SLOT_BYTES  2048

struct slot {
  uint64_t due_ns;
  uint16_t len;
  unsigned char data[SLOT_BYTES];
};

static volatile sig_atomic_t stop;
static struct slot queue[QUEUE_SLOTS];

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int open_tun(const char* name) {
  struct ifreq ifr;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    perror("delay_line: /dev/net/tun");
    return -1;
  }
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (strlen(name) >= sizeof(ifr.ifr_name)) {
    fprintf(stderr, "delay_line: interface name too long: %s\n", name);
    close(fd);
    return -1;
  }
  strcpy(ifr.ifr_name, name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    perror("delay_line: TUNSETIFF");
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char** argv) {
  char* end = NULL;
  long delay_us = argc == 3 ? strtol(argv[2], &end, 10) : -1;
  uint64_t delay_ns, head = 0, tail = 0, delayed = 0, dropped = 0, write_errors = 0;
  struct sigaction sa;
  int fd;

  if (argc != 3 || *end != '\0' || delay_us < 0 || delay_us > 10000000) {
    fprintf(stderr, "usage: delay_line IFNAME DELAY_US (0..10000000)\n");
    return 2;
  }
  delay_ns = (uint64_t)delay_us * 1000u;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;  // no SA_RESTART: ppoll returns EINTR and the loop ends
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  // The default 50 µs timer slack would add up to that much to every wake-up.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  fd = open_tun(argv[1]);
  if (fd < 0) return 1;
  printf("ready\n");
  fflush(stdout);

  while (!stop) {
    uint64_t now = now_ns();
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct timespec wait, *timeout = NULL;

    // Release every packet that is due; the queue is FIFO and the delay constant, so due times
    // are in order.
    while (head != tail && queue[head % QUEUE_SLOTS].due_ns <= now) {
      struct slot* s = &queue[head % QUEUE_SLOTS];
      if (write(fd, s->data, s->len) != (ssize_t)s->len) ++write_errors;
      ++head;
    }
    if (head != tail) {
      uint64_t left = queue[head % QUEUE_SLOTS].due_ns - now;
      wait.tv_sec = (time_t)(left / 1000000000u);
      wait.tv_nsec = (long)(left % 1000000000u);
      timeout = &wait;
    }
    if (ppoll(&pfd, 1, timeout, NULL) < 0 && errno != EINTR) {
      perror("delay_line: ppoll");
      return 1;
    }
    if (!(pfd.revents & POLLIN)) continue;
    // Everything that arrived now gets the same due time.
    now = now_ns();
    for (;;) {
      struct slot* s = &queue[tail % QUEUE_SLOTS];
      unsigned char spill[SLOT_BYTES];
      int full = tail - head == QUEUE_SLOTS;
      ssize_t n = read(fd, full ? spill : s->data, SLOT_BYTES);
      if (n <= 0) break;  // EAGAIN: drained
      if (full) {
        ++dropped;
        continue;
      }
      s->len = (uint16_t)n;
      s->due_ns = now + delay_ns;
      ++tail;
      ++delayed;
    }
  }
  fprintf(stderr,
          "delay_line %s: delayed %llu packets by %ld us, dropped %llu (queue full), "
          "%llu write errors\n",
          argv[1],
          (unsigned long long)delayed,
          delay_us,
          (unsigned long long)dropped,
          (unsigned long long)write_errors);
  close(fd);
  return 0;
}
