/*
 * trash.c - removing a directory tree, and sweeping what deleted topics left
 * (renamed to GMQ_TOPIC_TRASH_PREFIX... by gmq_topic_delete). The master
 * links this file alone, for its sweep at start.
 */
#include "topic_impl.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
topic_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? GMQ_OK : (errno == ENOTDIR && unlink(path) == 0 ? GMQ_OK : GMQ_ERR);
    struct dirent *de;
    int rc = GMQ_OK;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *sub = gmq_xmalloc(n);
        snprintf(sub, n, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (topic_rmtree(sub) != GMQ_OK)
                rc = GMQ_ERR;
        } else if (unlink(sub) != 0 && errno != ENOENT) {
            rc = GMQ_ERR;
        }
        free(sub);
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = GMQ_ERR;
    return rc;
}

void
gmq_topic_sweep_deleted(const char *data_dir)
{
    DIR *d = opendir(data_dir);
    struct dirent *de;
    size_t plen = strlen(GMQ_TOPIC_TRASH_PREFIX);
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, GMQ_TOPIC_TRASH_PREFIX, plen) != 0)
            continue;
        size_t n = strlen(data_dir) + strlen(de->d_name) + 2;
        char *path = gmq_xmalloc(n);
        snprintf(path, n, "%s/%s", data_dir, de->d_name);
        if (topic_rmtree(path) == GMQ_OK)
            gmq_log_info("removed %s (a deleted topic)", path);
        else
            gmq_log_warn("cannot remove %s (a deleted topic): %s", path, strerror(errno));
        free(path);
    }
    if (d != NULL)
        closedir(d);
}
