#!/usr/bin/env python3
"""Turn `omlctl render -o json` output into the Ansible peer's variables (JSON).

Usage: gen_vars.py RENDER.json HOST_NAME OUT.json [ENV_DIR]

The peer must converge exactly the containers omlop would run, so everything
comes from the render: names, images, env (written as KEY=VALUE env files under
ENV_DIR, default /etc/default, at the basename omlop's catalog gives), named
volumes and bind mounts, command, capabilities, restart policy, network and the
omlop.io/* labels. Secret references (omlop fills them from Secrets) become a
fixed placeholder: the bench measures convergence, not credentials.
"""
import json
import os
import sys

MARK = "# written by omlop bench/ansible (tenant_bench.sh); removed at the end of the run"


def env_value(name, v):
    if isinstance(v, dict):
        if "secretRef" in v:
            return "bench-secret-" + v["secretRef"].replace("/", "-")
        if "value" in v:
            return str(v["value"])
        sys.exit("gen_vars: env %s: unknown value form %r" % (name, v))
    return str(v)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    src, host, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    env_dir = sys.argv[4] if len(sys.argv) == 5 else "/etc/default"
    with open(src) as f:
        d = json.load(f)
    hosts = [h for h in d.get("hosts", []) if h.get("name") == host]
    if not hosts:
        sys.exit("gen_vars: %s: no host named %s in the render" % (src, host))
    images, vols, dirs, cons = [], [], [], []
    for c in hosts[0]["containers"]:
        if c.get("files"):
            sys.exit("gen_vars: %s: %s has extra files, which the peer does not write yet"
                     % (src, c["name"]))
        if c["image"] not in images:
            images.append(c["image"])
        mounts = []
        for v in c.get("volumes", []):
            s = v["source"]
            if s.startswith("/"):
                if s not in dirs:
                    dirs.append(s)
            elif s not in vols:
                vols.append(s)
            mounts.append("%s:%s%s" % (s, v["target"], ":ro" if v.get("readOnly") else ""))
        env = c.get("env", {})
        lines = [MARK] + ["%s=%s" % (k, env_value(k, env[k])) for k in sorted(env)]
        item = {
            "name": c["name"],
            "image": c["image"],
            "env_file": os.path.join(env_dir, os.path.basename(c["envFile"])),
            "env_content": "\n".join(lines) + "\n",
            "volumes": mounts,
            "labels": c.get("labels", {}),
            "cap_add": c.get("capAdd", []),
            "restart_policy": c.get("restartPolicy", "always"),
            "network": c.get("network", "host"),
        }
        if c.get("command"):
            item["command"] = c["command"]
        cons.append(item)
    out = {"oml_images": images, "oml_volumes": vols, "oml_bind_dirs": dirs,
           "oml_containers": cons, "oml_env_mark": MARK}
    with open(dst, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
