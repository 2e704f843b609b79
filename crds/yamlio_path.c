/*
 * yamlio_path: the I/O shell of yamlio.h: yaml_load_path reads stdin, a file,
 * or a directory tree, and hands the bytes to yaml_load_buffer (yamlio.c).
 * Every read is bounded by max_input_bytes, every walk by max_files and depth.
 */
#include "yamlio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* Directory levels a walk descends; symlinked directories are never followed anyway. */
#define WALK_MAX_DEPTH 32

static int load_fd(const char *name, int fd, const yaml_limits *limits, ydoc_list *out,
                   diag_list *diags)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    struct stat st;
    int rc;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size > limits->max_input_bytes) {
        diag_add(diags, name, 0, 0, NULL,
                 "file is %lld bytes, over the %zu byte limit (max_input_bytes)",
                 (long long)st.st_size, limits->max_input_bytes);
        return OMLOP_ELIMIT;
    }
    rc = strbuf_read_fd(&text, fd, limits->max_input_bytes, &err);
    if (rc < 0)
        diag_add(diags, name, 0, 0, NULL, "%s", err.msg);
    else
        rc = yaml_load_buffer(name, text.buf, text.len, limits, out, diags);
    strbuf_release(&text);
    return rc;
}

static int load_file(const char *path, const yaml_limits *limits, ydoc_list *out, diag_list *diags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int rc;

    if (fd < 0) {
        rc = errno == ENOENT ? OMLOP_ENOTFOUND : OMLOP_EIO;
        diag_add(diags, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return rc;
    }
    rc = load_fd(path, fd, limits, out, diags);
    close(fd);
    return rc;
}

typedef struct namelist {
    char **v;
    size_t n, cap;
} namelist;

static void namelist_add(namelist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = xrealloc(l->v, cap * sizeof(*p));

        l->v = p;
        l->cap = cap;
    }
    l->v[l->n] = xstrdup(s);
    if (!l->v[l->n++])
        abort();
}

static void namelist_release(namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_manifest_name(const char *name)
{
    static const char *const exts[] = {".yaml", ".yml", ".json"};
    size_t len = strlen(name);

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t el = strlen(exts[i]);

        if (len > el && strcmp(name + len - el, exts[i]) == 0)
            return 1;
    }
    return 0;
}

/*
 * Add dir's manifest files to files, in name order, descending into real
 * subdirectories. Symlinks to files count; symlinks to directories are not
 * followed, so a link loop cannot recur. Returns 0 or an error code (reported).
 */
static int walk_dir(const char *dir, int level, const yaml_limits *limits, namelist *files,
                    diag_list *diags)
{
    namelist names = {0};
    struct dirent *de;
    DIR *d = opendir(dir);
    int rc = 0, erc = 0;

    if (!d) {
        diag_add(diags, dir, 0, 0, NULL, "cannot read directory: %s", strerror(errno));
        return OMLOP_EIO;
    }
    /* Bounded by the directory's size; hidden entries (.git, editor files, a ConfigMap
     * volume's ..data) are skipped. */
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            namelist_add(&names, de->d_name);
    closedir(d);
    qsort(names.v, names.n, sizeof(*names.v), name_cmp);
    /* One unreadable entry is reported and skipped; a limit ends the walk. */
    for (size_t i = 0; i < names.n; i++) {
        strbuf path = STRBUF_INIT;
        struct stat st;

        strbuf_addf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names.v[i]);
        if (lstat(path.buf, &st) < 0) {
            diag_add(diags, path.buf, 0, 0, NULL, "cannot stat: %s", strerror(errno));
            rc = OMLOP_EIO;
        } else if (S_ISDIR(st.st_mode)) {
            if (level + 1 >= WALK_MAX_DEPTH) {
                diag_add(diags, path.buf, 0, 0, NULL,
                         "directory nested more than %d levels below the path given",
                         WALK_MAX_DEPTH);
                rc = OMLOP_ELIMIT;
            } else {
                rc = walk_dir(path.buf, level + 1, limits, files, diags);
            }
        } else if (is_manifest_name(names.v[i])) {
            if (S_ISLNK(st.st_mode) && stat(path.buf, &st) < 0) {
                diag_add(diags, path.buf, 0, 0, NULL, "cannot follow symlink: %s", strerror(errno));
                rc = OMLOP_EIO;
            } else if (S_ISREG(st.st_mode)) {
                if (files->n >= limits->max_files) {
                    diag_add(diags, path.buf, 0, 0, NULL,
                             "more than %zu manifest files (max_files)", limits->max_files);
                    rc = OMLOP_ELIMIT;
                } else {
                    namelist_add(files, path.buf);
                }
            }
        }
        strbuf_release(&path);
        if (rc == OMLOP_ELIMIT) {
            erc = rc;
            break;
        }
        if (rc && !erc)
            erc = rc;
        rc = 0;
    }
    namelist_release(&names);
    return erc;
}

int yaml_load_path(const char *path, const yaml_limits *limits, ydoc_list *out, diag_list *diags)
{
    yaml_limits defaults;
    namelist files = {0};
    struct stat st;
    int rc;

    if (!limits) {
        yaml_limits_default(&defaults);
        limits = &defaults;
    }
    if (strcmp(path, "-") == 0)
        return load_fd("-", STDIN_FILENO, limits, out, diags);
    if (stat(path, &st) < 0) {
        rc = errno == ENOENT ? OMLOP_ENOTFOUND : OMLOP_EIO;
        diag_add(diags, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
        return rc;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(path, limits, out, diags);
    rc = walk_dir(path, 0, limits, &files, diags);
    /* Load every file even after a bad one, so one run reports every problem. */
    for (size_t i = 0; i < files.n && rc != OMLOP_ELIMIT; i++) {
        int frc = load_file(files.v[i], limits, out, diags);

        if (!rc)
            rc = frc;
    }
    namelist_release(&files);
    return rc;
}
