/*
 * service.c - the service verbs of gmq-master. install writes the systemd
 * unit, a default config and a manifest of exactly what it created; uninstall
 * removes what the manifest lists (a config changed since is kept);
 * start/stop/restart/status call systemctl. The unit and the config are
 * embedded at build time from etc/ (build/gen/service_files.h).
 */
#include "service.h"
#include "common/buf.h"

#include "service_files.h"   /* generated: service_unit[], service_conf[] */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* the unit's ExecStart names this binary; install puts its own path there */
#define SERVICE_EXEC_TEMPLATE "ExecStart=/usr/local/bin/gmq-master "
#define SERVICE_ENTRIES_MAX   32     /* manifest entries; install writes a handful */
#define SERVICE_ENT_PATH_MAX  256    /* manifest paths are the known ones below */
#define SERVICE_HASH_HEX      (2 * 32 + 1)

typedef struct service_entry_s {
    int  is_dir;
    char hash[SERVICE_HASH_HEX];     /* files: SHA-256 of what install wrote */
    char path[SERVICE_ENT_PATH_MAX]; /* below the root, starting with '/' */
} service_entry_t;

typedef struct service_s {
    char            root[PATH_MAX];  /* "" = the real root */
    int             dry;             /* --root given: print commands, run none */
    const char     *verb;
    service_entry_t ents[SERVICE_ENTRIES_MAX];
    size_t          nents;
} service_t;

typedef struct service_verb_s {
    const char *name;
    int       (*run)(service_t *s);
    const char *help;
} service_verb_t;

static int  service_install(service_t *s);
static int  service_uninstall(service_t *s);
static int  service_systemctl(service_t *s);
static void service_usage(FILE *f, int full);
static void service_path(const service_t *s, const char *rel, char *out, size_t size);
static int  service_run(const service_t *s, const char *const *argv);
static int  service_mkdirs(service_t *s, const char *rel);
static int  service_write(const char *path, const char *data, size_t len, mode_t mode);
static int  service_hash_file(const char *path, char *hex);
static void service_hash(const char *data, size_t len, char *hex);
static int  service_exe(const service_t *s, char *out, size_t size);
static int  service_manifest_load(service_t *s, int *found);
static int  service_manifest_save(service_t *s);
static service_entry_t *service_entry(service_t *s, const char *path);
static service_entry_t *service_entry_add(service_t *s, int is_dir, const char *path);
static int  service_known(int is_dir, const char *path);

static const service_verb_t service_verbs[] = {
    { "install",   service_install,   "write the unit, /etc/gmq/gmq.conf (if missing) and a manifest; "
                                      "enable the unit" },
    { "uninstall", service_uninstall, "disable and stop the unit, remove what install wrote "
                                      "(a config changed since is kept)" },
    { "start",     service_systemctl, "systemctl start " GMQ_SERVICE_UNIT },
    { "stop",      service_systemctl, "systemctl stop " GMQ_SERVICE_UNIT },
    { "restart",   service_systemctl, "systemctl restart " GMQ_SERVICE_UNIT },
    { "status",    service_systemctl, "systemctl status " GMQ_SERVICE_UNIT },
};

int
gmq_service_is_verb(const char *word)
{
    if (word == NULL)
        return 0;
    for (size_t i = 0; i < GMQ_ARRAY_LEN(service_verbs); i++)
        if (strcmp(service_verbs[i].name, word) == 0)
            return 1;
    return 0;
}

int
gmq_service_main(int argc, char **argv)
{
    const service_verb_t *v = NULL;
    for (size_t i = 0; argc > 1 && i < GMQ_ARRAY_LEN(service_verbs); i++)
        if (strcmp(service_verbs[i].name, argv[1]) == 0)
            v = &service_verbs[i];
    if (v == NULL) {
        service_usage(stderr, 0);
        return GMQ_EXIT_CONFIG;
    }
    service_t *s = gmq_xcalloc(1, sizeof(*s));
    s->verb = v->name;
    const char *root = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            service_usage(stdout, 1);
            free(s);
            return GMQ_EXIT_OK;
        } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strncmp(argv[i], "--root=", 7) == 0) {
            root = argv[i] + 7;
        } else {
            fprintf(stderr, "gmq-master %s: unknown argument or missing value: '%s'\n", v->name, argv[i]);
            service_usage(stderr, 0);
            free(s);
            return GMQ_EXIT_CONFIG;
        }
    }
    if (root != NULL) {
        char real[PATH_MAX];
        struct stat st;
        const char *why = NULL;
        if (*root == '\0' || realpath(root, real) == NULL || stat(real, &st) != 0)
            why = *root ? strerror(errno) : "empty";
        else if (!S_ISDIR(st.st_mode))
            why = "not a directory";
        else if (strlen(real) >= sizeof(s->root) - SERVICE_ENT_PATH_MAX - 8)
            why = "path too long";
        if (why != NULL) {
            fprintf(stderr, "gmq-master %s: --root %s: %s\n", v->name, root, why);
            free(s);
            return GMQ_EXIT_ERR;
        }
        s->dry = 1;
        if (strcmp(real, "/") != 0)
            snprintf(s->root, sizeof(s->root), "%s", real);
    }
    int rc = v->run(s);
    free(s);
    return rc;
}

static void
service_usage(FILE *f, int full)
{
    fprintf(f, "usage: gmq-master install|uninstall|start|stop|restart|status [--root DIR]\n"
               "       gmq-master [-config_file=PATH] [-name=value ...]   (run a node; see --help)\n");
    if (!full)
        return;
    fprintf(f, "\n");
    for (size_t i = 0; i < GMQ_ARRAY_LEN(service_verbs); i++)
        fprintf(f, "  %-10s %s\n", service_verbs[i].name, service_verbs[i].help);
    fprintf(f, "\n  --root DIR  install below DIR instead of /, and print the systemctl and adduser\n"
               "              commands instead of running them\n"
               "\nexit status: 0 ok, 1 failure, 2 usage error\n");
}

/* install: the user, the directories, the unit, the config if missing, the
 * manifest; then daemon-reload and enable. Running it again rewrites the unit
 * and keeps the manifest's earlier entries. */
static int
service_install(service_t *s)
{
    char path[PATH_MAX], exe[PATH_MAX];
    int found;

    if (service_exe(s, exe, sizeof(exe)) != GMQ_OK || service_manifest_load(s, &found) != GMQ_OK)
        return GMQ_EXIT_ERR;
    if (s->dry || getpwnam(GMQ_SERVICE_USER) == NULL) {
        const char *add[] = { "adduser", "--system", "--group", "--home", GMQ_SERVICE_DATA_DIR,
                              "--no-create-home", "--quiet", GMQ_SERVICE_USER, NULL };
        if (service_run(s, add) != 0) {
            fprintf(stderr, "gmq-master install: could not create the system user %s\n", GMQ_SERVICE_USER);
            return GMQ_EXIT_ERR;
        }
    }
    if (service_mkdirs(s, "/etc/systemd/system") != GMQ_OK || service_mkdirs(s, "/etc/gmq") != GMQ_OK ||
        service_mkdirs(s, GMQ_SERVICE_DATA_DIR) != GMQ_OK)
        return GMQ_EXIT_ERR;

    /* the unit, with this binary in ExecStart */
    const char *at = strstr(service_unit, SERVICE_EXEC_TEMPLATE);
    if (at == NULL) {
        fprintf(stderr, "gmq-master install: the embedded unit has no '%s'\n", SERVICE_EXEC_TEMPLATE);
        return GMQ_EXIT_ERR;
    }
    gmq_buf_t unit;
    gmq_buf_init(&unit);
    gmq_buf_append(&unit, service_unit, (size_t) (at - service_unit));
    gmq_buf_printf(&unit, "ExecStart=%s ", exe);
    gmq_buf_append_str(&unit, at + strlen(SERVICE_EXEC_TEMPLATE));
    service_path(s, GMQ_SERVICE_UNIT_PATH, path, sizeof(path));
    int rc = service_write(path, unit.data, unit.len, 0644);
    if (rc == GMQ_OK) {
        service_hash(unit.data, unit.len, service_entry_add(s, 0, GMQ_SERVICE_UNIT_PATH)->hash);
        printf("wrote %s\n", path);
    }
    gmq_buf_free(&unit);
    if (rc != GMQ_OK)
        return GMQ_EXIT_ERR;

    /* the config: never overwritten */
    struct stat st;
    service_path(s, GMQ_SERVICE_CONF_PATH, path, sizeof(path));
    if (lstat(path, &st) == 0) {
        printf("kept %s (%s)\n", path, service_entry(s, GMQ_SERVICE_CONF_PATH) ? "written by an earlier install"
                                                                              : "exists; uninstall leaves it");
    } else if (service_write(path, service_conf, strlen(service_conf), 0644) == GMQ_OK) {
        service_hash(service_conf, strlen(service_conf), service_entry_add(s, 0, GMQ_SERVICE_CONF_PATH)->hash);
        printf("wrote %s\n", path);
    } else {
        return GMQ_EXIT_ERR;
    }
    if (service_manifest_save(s) != GMQ_OK)
        return GMQ_EXIT_ERR;

    const char *reload[] = { "systemctl", "daemon-reload", NULL };
    const char *enable[] = { "systemctl", "enable", GMQ_SERVICE_UNIT, NULL };
    if (service_run(s, reload) != 0 || service_run(s, enable) != 0) {
        fprintf(stderr, "gmq-master install: systemctl failed (the files are written)\n");
        return GMQ_EXIT_ERR;
    }
    printf("installed %s; start it with: gmq-master start\n", GMQ_SERVICE_UNIT);
    return GMQ_EXIT_OK;
}

/* uninstall: disable --now, then the files the manifest lists (the config
 * only if unchanged), the manifest, and the directories install created if
 * they are empty. The gmq user and the data stay. */
static int
service_uninstall(service_t *s)
{
    char path[PATH_MAX], hex[SERVICE_HASH_HEX];
    int found;

    if (service_manifest_load(s, &found) != GMQ_OK)
        return GMQ_EXIT_ERR;
    service_path(s, GMQ_SERVICE_MANIFEST, path, sizeof(path));
    if (!found) {
        fprintf(stderr, "gmq-master uninstall: not installed (no %s)\n", path);
        return GMQ_EXIT_ERR;
    }
    const char *disable[] = { "systemctl", "disable", "--now", GMQ_SERVICE_UNIT, NULL };
    if (service_run(s, disable) != 0)
        fprintf(stderr, "gmq-master uninstall: systemctl disable failed; removing the files anyway\n");

    for (size_t i = 0; i < s->nents; i++) {
        service_entry_t *e = &s->ents[i];
        if (e->is_dir)
            continue;
        service_path(s, e->path, path, sizeof(path));
        /* the unit is ours (local changes belong in drop-ins); a changed config is the user's */
        if (strcmp(e->path, GMQ_SERVICE_UNIT_PATH) != 0 &&
            service_hash_file(path, hex) == GMQ_OK && strcmp(hex, e->hash) != 0) {
            printf("kept %s (changed since install)\n", path);
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "gmq-master uninstall: %s: %s\n", path, strerror(errno));
            return GMQ_EXIT_ERR;
        }
        printf("removed %s\n", path);
    }
    service_path(s, GMQ_SERVICE_MANIFEST, path, sizeof(path));
    if (unlink(path) != 0) {
        fprintf(stderr, "gmq-master uninstall: %s: %s\n", path, strerror(errno));
        return GMQ_EXIT_ERR;
    }
    for (size_t i = s->nents; i-- > 0;) {
        if (!s->ents[i].is_dir)
            continue;
        service_path(s, s->ents[i].path, path, sizeof(path));
        if (rmdir(path) == 0)
            printf("removed %s\n", path);
        else if (errno == ENOTEMPTY || errno == EEXIST)
            printf("kept %s (not empty)\n", path);
        else if (errno != ENOENT)
            fprintf(stderr, "gmq-master uninstall: %s: %s\n", path, strerror(errno));
    }
    const char *reload[] = { "systemctl", "daemon-reload", NULL };
    if (service_run(s, reload) != 0)
        fprintf(stderr, "gmq-master uninstall: systemctl daemon-reload failed\n");
    printf("uninstalled %s\n", GMQ_SERVICE_UNIT);
    return GMQ_EXIT_OK;
}

/* start, stop, restart, status: systemctl <verb>; with --root, status also
 * says whether the unit is installed there (exit 1 if not) */
static int
service_systemctl(service_t *s)
{
    const char *cmd[] = { "systemctl", s->verb, GMQ_SERVICE_UNIT, NULL };
    int installed = 1;
    if (s->dry && strcmp(s->verb, "status") == 0) {
        char path[PATH_MAX];
        struct stat st;
        service_path(s, GMQ_SERVICE_UNIT_PATH, path, sizeof(path));
        installed = stat(path, &st) == 0;
        printf("%s: %s %s\n", GMQ_SERVICE_UNIT, installed ? "installed in" : "not installed in", path);
    }
    return service_run(s, cmd) == 0 && installed ? GMQ_EXIT_OK : GMQ_EXIT_ERR;
}

/* root + rel; cannot be cut short: --root is bounded to leave room for rel */
static void
service_path(const service_t *s, const char *rel, char *out, size_t size)
{
    int n = snprintf(out, size, "%s%s", s->root, rel);
    if (n < 0 || (size_t) n >= size)
        abort();
}

/* runs argv (searched in PATH) and returns its exit status, -1 if it could
 * not run; with --root prints "would run: ..." and returns 0 */
static int
service_run(const service_t *s, const char *const *argv)
{
    if (s->dry) {
        printf("would run:");
        for (size_t i = 0; argv[i]; i++)
            printf(" %s", argv[i]);
        printf("\n");
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "gmq-master %s: fork: %s\n", s->verb, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execvp(argv[0], (char *const *) argv);
        fprintf(stderr, "gmq-master %s: %s: %s\n", s->verb, argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* creates root+rel and its missing parents, recording in the manifest each
 * directory that did not exist */
static int
service_mkdirs(service_t *s, const char *rel)
{
    char sub[SERVICE_ENT_PATH_MAX], path[PATH_MAX];
    struct stat st;
    const char *missing[16];
    size_t n = 0, len = strlen(rel);

    for (size_t i = 1; i <= len && n < GMQ_ARRAY_LEN(missing); i++) {
        if (rel[i] != '/' && rel[i] != '\0')
            continue;
        snprintf(sub, sizeof(sub), "%.*s", (int) i, rel);
        service_path(s, sub, path, sizeof(path));
        if (stat(path, &st) != 0 && errno == ENOENT && service_entry(s, sub) == NULL)
            missing[n++] = gmq_xstrdup(sub);
    }
    service_path(s, rel, path, sizeof(path));
    int rc = gmq_mkdir_p(path, 0755) == 0 ? GMQ_OK : GMQ_ERR;
    if (rc != GMQ_OK)
        fprintf(stderr, "gmq-master %s: mkdir %s: %s\n", s->verb, path, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if (rc == GMQ_OK)
            service_entry_add(s, 1, missing[i]);
        free((void *) missing[i]);
    }
    return rc;
}

/* temp file + fsync + rename, so a crash leaves the old file or the new one */
static int
service_write(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "gmq-master: %s: %s\n", tmp, strerror(errno));
        return GMQ_ERR;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t) w;
    }
    if (off < len || fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        if (off < len)
            close(fd);
        unlink(tmp);
        fprintf(stderr, "gmq-master: %s: %s\n", path, strerror(e));
        return GMQ_ERR;
    }
    return GMQ_OK;
}

static int
service_hash_file(const char *path, char *hex)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return GMQ_ERR;
    gmq_buf_t b;
    gmq_buf_init(&b);
    int eof = 0;
    while (!eof && b.len < (16u << 20))
        if (gmq_buf_read_fd(&b, fd, 65536) <= 0)
            eof = 1;
    close(fd);
    service_hash(b.data ? b.data : "", b.len, hex);
    gmq_buf_free(&b);
    return GMQ_OK;
}

static void
service_hash(const char *data, size_t len, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* this binary's path as seen from the root, for ExecStart */
static int
service_exe(const service_t *s, char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0) {
        fprintf(stderr, "gmq-master %s: /proc/self/exe: %s\n", s->verb, strerror(errno));
        return GMQ_ERR;
    }
    out[n] = '\0';
    size_t rl = strlen(s->root);
    if (rl > 0 && strncmp(out, s->root, rl) == 0 && out[rl] == '/')
        memmove(out, out + rl, strlen(out + rl) + 1);
    if (strpbrk(out, " \t\n\"'\\%$;") != NULL) {
        fprintf(stderr, "gmq-master %s: the binary's path %s has characters ExecStart= would "
                        "interpret; install it elsewhere (make install)\n", s->verb, out);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

/* the manifest: "dir PATH" and "file SHA256 PATH" lines; every path must be
 * one install writes, so a damaged manifest cannot make uninstall remove
 * anything else */
static int
service_manifest_load(service_t *s, int *found)
{
    char path[PATH_MAX], line[512];
    service_path(s, GMQ_SERVICE_MANIFEST, path, sizeof(path));
    *found = 0;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return GMQ_OK;
        fprintf(stderr, "gmq-master %s: %s: %s\n", s->verb, path, strerror(errno));
        return GMQ_ERR;
    }
    *found = 1;
    int rc = GMQ_OK, lineno = 0;
    while (rc == GMQ_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        const char *p = NULL, *hash = NULL;
        int is_dir = strncmp(line, "dir ", 4) == 0;
        if (is_dir) {
            p = line + 4;
        } else if (strncmp(line, "file ", 5) == 0 && strlen(line) > 5 + 64 && line[5 + 64] == ' ') {
            line[5 + 64] = '\0';
            hash = line + 5;
            p = line + 5 + 64 + 1;
        }
        if (p == NULL || !service_known(is_dir, p) || (hash && strspn(hash, "0123456789abcdef") != 64) ||
            s->nents == SERVICE_ENTRIES_MAX || service_entry(s, p) != NULL) {
            fprintf(stderr, "gmq-master %s: %s:%d: not a line install writes\n", s->verb, path, lineno);
            rc = GMQ_ERR;
            break;
        }
        service_entry_t *e = service_entry_add(s, is_dir, p);
        if (hash)
            memcpy(e->hash, hash, 65);
    }
    fclose(f);
    return rc;
}

static int
service_manifest_save(service_t *s)
{
    char path[PATH_MAX];
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "# written by gmq-master install: what it created below the root;\n"
                           "# gmq-master uninstall removes these (a changed config is kept)\n");
    for (size_t i = 0; i < s->nents; i++) {
        if (s->ents[i].is_dir)
            gmq_buf_printf(&b, "dir %s\n", s->ents[i].path);
        else
            gmq_buf_printf(&b, "file %s %s\n", s->ents[i].hash, s->ents[i].path);
    }
    service_path(s, GMQ_SERVICE_MANIFEST, path, sizeof(path));
    int rc = service_write(path, b.data, b.len, 0644);
    gmq_buf_free(&b);
    if (rc == GMQ_OK)
        printf("wrote %s\n", path);
    return rc;
}

static service_entry_t *
service_entry(service_t *s, const char *path)
{
    for (size_t i = 0; i < s->nents; i++)
        if (strcmp(s->ents[i].path, path) == 0)
            return &s->ents[i];
    return NULL;
}

/* the entry of path, added if missing (paths are the short known ones) */
static service_entry_t *
service_entry_add(service_t *s, int is_dir, const char *path)
{
    service_entry_t *e = service_entry(s, path);
    if (e == NULL) {
        if (s->nents == SERVICE_ENTRIES_MAX)
            abort();   /* install records at most a dozen paths */
        e = &s->ents[s->nents++];
        snprintf(e->path, sizeof(e->path), "%s", path);
    }
    e->is_dir = is_dir;
    return e;
}

/* files: the unit and the config; directories: the data directory and the
 * parents of the three (not "/") */
static int
service_known(int is_dir, const char *path)
{
    static const char *const files[] = { GMQ_SERVICE_UNIT_PATH, GMQ_SERVICE_CONF_PATH, GMQ_SERVICE_DATA_DIR "/" };
    size_t n = strlen(path);
    if (!is_dir)
        return strcmp(path, files[0]) == 0 || strcmp(path, files[1]) == 0;
    if (n < 2 || path[0] != '/' || path[n - 1] == '/' || strstr(path, "//") != NULL)
        return 0;
    for (size_t i = 0; i < GMQ_ARRAY_LEN(files); i++)
        if (strncmp(files[i], path, n) == 0 && files[i][n] == '/')
            return 1;
    return 0;
}
