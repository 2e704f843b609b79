/*
 * cmds: the omlctl verbs. Each verb lives in its own file as
 * cmd_<verb>(argc, argv) (argv[0] is the verb) and returns the process exit
 * code: 0 ok, 1 error, 2 usage. Its --help text lives next to it.
 */
#ifndef OMLOP_OMLCTL_CMDS_H
#define OMLOP_OMLCTL_CMDS_H

#define OMLCTL_EXIT_OK    0
#define OMLCTL_EXIT_ERROR 1
#define OMLCTL_EXIT_USAGE 2

typedef struct omlctl_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} omlctl_cmd;

int cmd_version(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_ha(int argc, char **argv);
int cmd_gitsource(int argc, char **argv);

#endif
