/* LD_PRELOAD shim for the power-cut tests: at every fsync/fdatasync of a file whose name
 * ends in ".db" or "-wal", copy the file as it is then to NAME.durable. What a power cut
 * leaves is, at best, what was last synced: the .durable copies are that disk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void snapshot(int fd) {
    char link[64], path[PATH_MAX], out[PATH_MAX + 16], buf[65536];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    size_t len = strlen(path);
    int db = len > 3 && strcmp(path + len - 3, ".db") == 0;
    int wal = len > 4 && strcmp(path + len - 4, "-wal") == 0;
    if (!db && !wal) return;
    snprintf(out, sizeof out, "%s.durable", path);
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", out, (int)getpid());
    int src = open(path, O_RDONLY), dst = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (src >= 0 && dst >= 0) {
        ssize_t r;
        while ((r = read(src, buf, sizeof buf)) > 0) {
            if (write(dst, buf, r) != r) break;
        }
        rename(tmp, out);
    }
    if (src >= 0) close(src);
    if (dst >= 0) close(dst);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fdatasync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}
