/* The operating-system calls that differ between POSIX and Windows (see platform.h).
 * POSIX: mkstemp, flock, fsync, rename, opendir, clock_gettime. Windows: CreateFile with
 * CREATE_NEW and no sharing, FlushFileBuffers, MoveFileEx, FindFirstFile,
 * QueryPerformanceCounter; paths are in the ANSI code page, as fopen (and so Lua's io.open
 * and recur's readers) takes them. */
#if !defined(_WIN32)
#define _DEFAULT_SOURCE /* flock */
#define _POSIX_C_SOURCE 200809L
#endif

#include "platform.h"

#include <stdio.h>
#include <string.h>

/* A temporary file is named after its target: base + ".tmp-" + 6 letters or digits. */
#define TEMP_SUFFIX ".tmp-"
#define TEMP_SUFFIX_LEN 5
#define TEMP_RANDOM_LEN 6
#define NAME_MAX_BYTES 260 /* a directory entry's name, NUL included (NAME_MAX, MAX_PATH) */

/* tmp (path + suffix) then scratch (the directory, then one of its entries) */
size_t rc_atomic_workspace_size(size_t path_len) { return 2 * path_len + NAME_MAX_BYTES + 32; }

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* is name (n bytes) a temporary file of the target named base? */
static int is_temp_of(const char *name, size_t n, const char *base, size_t base_len) {
  if (n != base_len + TEMP_SUFFIX_LEN + TEMP_RANDOM_LEN) return 0;
  if (memcmp(name, base, base_len) != 0 || memcmp(name + base_len, TEMP_SUFFIX, TEMP_SUFFIX_LEN) != 0)
    return 0;
  for (size_t i = n - TEMP_RANDOM_LEN; i < n; i++)
    if (!is_alnum(name[i])) return 0;
  return 1;
}

static int is_separator(char c) {
#if defined(_WIN32)
  return c == '/' || c == '\\' || c == ':';
#else
  return c == '/';
#endif
}

/* where the file name starts in path (after its directory, if any) */
static const char *base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (is_separator(*p)) base = p + 1;
  return base;
}

#if defined(_WIN32)
/* ---- Windows ----------------------------------------------------------------------------- */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

static int fail(rc_file_error *err, const char *step, DWORD code) {
  err->step = step;
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0,
                           err->message, (DWORD)sizeof err->message, NULL);
  while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == '\r' || err->message[n - 1] == '.'))
    n--;
  if (n == 0) n = (DWORD)snprintf(err->message, sizeof err->message, "error %lu", (unsigned long)code);
  err->message[n] = '\0';
  return -1;
}

/* 6 letters or digits from a hash (splitmix64's finaliser) of the time, process, thread and
 * attempt; CREATE_NEW, not the name, is what keeps two saves from sharing a file */
static void random_suffix(char *out, unsigned attempt) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  uint64_t x = (uint64_t)now.QuadPart ^ ((uint64_t)GetCurrentProcessId() << 40) ^
               ((uint64_t)GetCurrentThreadId() << 20) ^ (attempt * 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  for (int i = 0; i < TEMP_RANDOM_LEN; i++, x /= 62) out[i] = alphabet[x % 62];
  out[TEMP_RANDOM_LEN] = '\0';
}

/* Deletes the temporary files of path older than this save's (mine). A save still running
 * holds its file open without sharing, so that DeleteFile fails on it. */
static void remove_stale_temps(const char *path, const FILETIME *mine, char *scratch) {
  const char *base = base_name(path);
  size_t dir_len = (size_t)(base - path), base_len = strlen(base);
  memcpy(scratch, path, dir_len + base_len);
  memcpy(scratch + dir_len + base_len, TEMP_SUFFIX "*", TEMP_SUFFIX_LEN + 2);
  WIN32_FIND_DATAA found;
  HANDLE find = FindFirstFileA(scratch, &found);
  if (find == INVALID_HANDLE_VALUE) return;
  do {
    size_t n = strlen(found.cFileName);
    if (!(found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
        is_temp_of(found.cFileName, n, base, base_len) && CompareFileTime(&found.ftLastWriteTime, mine) < 0 &&
        n < NAME_MAX_BYTES) {
      memcpy(scratch + dir_len, found.cFileName, n + 1);
      DeleteFileA(scratch);
    }
  } while (FindNextFileA(find, &found));
  FindClose(find);
}

static DWORD write_all(HANDLE h, const char *data, size_t len) {
  while (len > 0) {
    DWORD chunk = len > (1u << 30) ? (1u << 30) : (DWORD)len, written = 0;
    if (!WriteFile(h, data, chunk, &written, NULL)) return GetLastError();
    if (written == 0) return ERROR_WRITE_FAULT;
    data += written;
    len -= written;
  }
  return 0;
}

int rc_write_file_atomic(const char *path, const char *data, size_t len, char *workspace,
                         rc_file_error *err) {
  size_t plen = strlen(path);
  char *tmp = workspace, *scratch = workspace + plen + 16;
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, TEMP_SUFFIX, TEMP_SUFFIX_LEN);
  HANDLE h = INVALID_HANDLE_VALUE;
  for (unsigned attempt = 0; attempt < 100 && h == INVALID_HANDLE_VALUE; attempt++) {
    random_suffix(tmp + plen + TEMP_SUFFIX_LEN, attempt);
    h = CreateFileA(tmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE && GetLastError() != ERROR_FILE_EXISTS) break;
  }
  if (h == INVALID_HANDLE_VALUE) return fail(err, "create", GetLastError());
  FILETIME mine;
  if (GetFileTime(h, NULL, NULL, &mine)) remove_stale_temps(path, &mine, scratch);
  const char *step = "write";
  DWORD code = write_all(h, data, len);
  if (!code && !FlushFileBuffers(h)) code = GetLastError(), step = "flush";
  CloseHandle(h);
  if (!code && !MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    code = GetLastError(), step = "replace";
  if (code) {
    DeleteFileA(tmp);
    return fail(err, step, code);
  }
  return 0;
}

double rc_monotonic_seconds(void) {
  LARGE_INTEGER now, frequency;
  QueryPerformanceCounter(&now);
  QueryPerformanceFrequency(&frequency);
  return (double)now.QuadPart / (double)frequency.QuadPart;
}

#else
/* ---- POSIX ------------------------------------------------------------------------------- */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__APPLE__)
#define MTIME(st) ((st).st_mtimespec)
#else
#define MTIME(st) ((st).st_mtim)
#endif

static int fail(rc_file_error *err, const char *step, int code) {
  err->step = step;
  if (strerror_r(code, err->message, sizeof err->message) != 0) /* thread-safe, unlike strerror */
    snprintf(err->message, sizeof err->message, "error %d", code);
  return -1;
}

static int older(const struct stat *a, const struct stat *b) {
  return MTIME(*a).tv_sec < MTIME(*b).tv_sec ||
         (MTIME(*a).tv_sec == MTIME(*b).tv_sec && MTIME(*a).tv_nsec < MTIME(*b).tv_nsec);
}

/* Removes file if it is a temporary file older than this save's (mine) that no running save
 * holds: every save keeps an exclusive flock on its temporary file until it is renamed. */
static void remove_if_stale(const char *file, const struct stat *mine) {
  int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && older(&st, mine) && flock(fd, LOCK_EX | LOCK_NB) == 0)
    unlink(file);
  close(fd);
}

static void remove_stale_temps(const char *path, const struct stat *mine, char *scratch) {
  const char *base = base_name(path);
  size_t dir_len = (size_t)(base - path), base_len = strlen(base);
  memcpy(scratch, path, dir_len);
  scratch[dir_len] = '\0';
  DIR *dir = opendir(dir_len ? scratch : ".");
  if (!dir) return;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    size_t n = strlen(entry->d_name);
    if (n >= NAME_MAX_BYTES || !is_temp_of(entry->d_name, n, base, base_len)) continue;
    memcpy(scratch + dir_len, entry->d_name, n + 1);
    remove_if_stale(scratch, mine);
  }
  closedir(dir);
}

/* writes all of data to fd; returns 0 or an errno value */
static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

/* fsync of the directory holding path, so that the rename itself is durable */
static void sync_directory(const char *path, char *scratch) {
  size_t dir_len = (size_t)(base_name(path) - path);
  memcpy(scratch, path, dir_len);
  scratch[dir_len] = '\0';
  int fd = open(dir_len ? scratch : ".", O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Creates the temporary file of the target path (plen bytes, at the start of tmp; the name goes
 * after it) with an exclusive flock held: the mark of a save in progress (see remove_if_stale;
 * a no-op where locks are not supported). Another save may take the file for stale between
 * mkstemp and flock, and remove it: then it starts again. Returns the descriptor and the file's
 * stat in *st, or -1 with *err filled. */
static int create_locked_temp(char *tmp, size_t plen, struct stat *st, rc_file_error *err) {
  for (int attempt = 0; attempt < 100; attempt++) {
    memcpy(tmp + plen, TEMP_SUFFIX "XXXXXX", TEMP_SUFFIX_LEN + TEMP_RANDOM_LEN + 1);
    int fd = mkstemp(tmp);
    if (fd < 0) return fail(err, "create", errno);
    flock(fd, LOCK_EX);
    if (fstat(fd, st) == 0 && st->st_nlink > 0) return fd;
    close(fd);
    unlink(tmp); /* removed already, unless fstat failed */
  }
  return fail(err, "create", EAGAIN);
}

int rc_write_file_atomic(const char *path, const char *data, size_t len, char *workspace,
                         rc_file_error *err) {
  size_t plen = strlen(path);
  char *tmp = workspace, *scratch = workspace + plen + 16;
  memcpy(tmp, path, plen);
  struct stat mine, old;
  int fd = create_locked_temp(tmp, plen, &mine, err);
  if (fd < 0) return -1;
  remove_stale_temps(path, &mine, scratch);
  /* mkstemp makes the file private: give it the replaced file's mode, else rw-r--r-- */
  fchmod(fd, stat(path, &old) == 0 ? (old.st_mode & 07777) : 0644);
  const char *step = "write";
  int code = write_all(fd, data, len);
  if (!code && fsync(fd) != 0) code = errno, step = "fsync";
  if (!code && rename(tmp, path) != 0) code = errno, step = "rename";
  /* closed after the rename, so that the lock covers the file until it has its final name;
   * the data is on disk already (fsync), a late close error cannot lose it */
  close(fd);
  if (code) {
    unlink(tmp);
    return fail(err, step, code);
  }
  sync_directory(path, scratch);
  return 0;
}

double rc_monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
