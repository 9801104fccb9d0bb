#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# An Ansible module for graft: portable services (pctl), system and configuration extensions
# (sextctl) and updates (graft-update), each driven through the program's --json output. It reads
# the state first and changes only what differs (idempotent), says what it would do in check mode,
# and shows the change as a diff.

DOCUMENTATION = r"""
module: graft
short_description: Portable services, extensions and updates with graft
description:
  - Attaches and detaches portable services (pctl), merges and unmerges system and
    configuration extensions (sextctl), and updates them from their sysupdate.d transfer
    files (graft-update), reading the state through each program's --json output first so
    that nothing is done when the host is as asked.
  - Supports check mode (reports what would change, changes nothing) and diff mode.
options:
  portable:
    description: A portable service image, by name or path (pctl). One of I(portable), I(extensions), I(update).
    type: str
  extensions:
    description: The class of extensions to merge or unmerge (sextctl).
    type: str
    choices: [sysext, confext]
  update:
    description: The component to update (graft-update); C(default) for sysupdate.d.
    type: str
  state:
    description:
      - For I(portable): C(attached), C(running) (attached, enabled and started) or C(detached).
      - For I(extensions): C(merged) (every image found is merged; refreshed when not) or C(unmerged).
      - For I(update): C(latest) (the newest version that is not marked bad, healthy) or
        C(present) (exactly I(version)).
    type: str
    required: true
  profile:
    description: The profile to attach with (portable).
    type: str
  version:
    description: The version to be on (update, with I(state=present)).
    type: str
  root:
    description: Work below this directory instead of the host (--root).
    type: path
notes:
  - An update whose health check fails is rolled back by graft-update itself; the task then
    fails with graft-update's message, and the result has I(rolled_back=true).
"""

EXAMPLES = r"""
- name: webdemo runs
  graft:
    portable: webdemo
    state: running
- name: on the newest healthy release
  graft:
    update: default
    state: latest
- name: extensions merged
  graft:
    extensions: sysext
    state: merged
"""

import json

from ansible.module_utils.basic import AnsibleModule

PORTABLE_STATES = ["attached", "running", "detached"]
EXTENSION_STATES = ["merged", "unmerged"]
UPDATE_STATES = ["latest", "present"]
EXIT_UNHEALTHY = 11


class Graft:
    def __init__(self, module):
        self.m = module
        self.root = module.params["root"]

    def run(self, program, args, ok=(0,)):
        """Runs program --json=short ARGS; its JSON, or None when it printed none. An exit
        status outside ok fails the task, unless the program still printed its JSON answer
        (pctl is-attached says "detached" with exit status 1)."""
        cmd = [self.m.get_bin_path(program, required=True), "--json=short"]
        if self.root:
            cmd.append("--root=" + self.root)
        rc, out, err = self.m.run_command(cmd + args)
        try:
            answer = json.loads(out) if out.strip() else None
        except ValueError:
            answer = None
        if rc not in ok and answer is None:
            self.m.fail_json(msg="%s failed (exit status %d): %s" % (" ".join(cmd + args), rc, err.strip()),
                             rc=rc, stderr=err, rolled_back=program == "graft-update" and rc == EXIT_UNHEALTHY)
        return answer


def portable(g, p):
    image, want = p["portable"], p["state"]
    info = g.run("pctl", ["is-attached", image], ok=(0, 1, 7))
    have = (info or {}).get("state") or "detached"
    running = have.startswith("running")
    attached = have != "detached"
    steps = []
    if want == "detached" and attached:
        steps.append(["detach", "--now", image])
    elif want in ("attached", "running") and not attached:
        args = ["attach"] + (["--profile=" + p["profile"]] if p["profile"] else [])
        if want == "running":
            args += ["--enable", "--now"]
        steps.append(args + [image])
    elif want == "running" and not running:
        steps.append(("start", image))
    after = {"detached": "detached", "attached": have if attached else "attached", "running": "running"}[want]
    result = {"changed": bool(steps), "before": have, "after": after if steps else have,
              "diff": {"before": "state: %s\n" % have, "after": "state: %s\n" % (after if steps else have),
                       "before_header": image, "after_header": image}}
    if steps and not g.m.check_mode:
        for s in steps:
            if s[0] == "start":
                units = next((i.get("units") or [] for i in g.run("pctl", ["list"]) or []
                              if image in (i.get("name"), i.get("path"))), [])
                rc, out, err = g.m.run_command(["systemctl", "start"] + units)
                if rc != 0:
                    g.m.fail_json(msg="systemctl start %s failed: %s" % (" ".join(units), err.strip()))
            else:
                result["result"] = g.run("pctl", s)
        result["after"] = (g.run("pctl", ["is-attached", image], ok=(0, 1, 7)) or {}).get("state") or "detached"
        result["diff"]["after"] = "state: %s\n" % result["after"]
    return result


def extensions(g, p):
    cls, want = p["extensions"], p["state"]
    flag = ["--confext"] if cls == "confext" else []
    merged = sorted({e for h in g.run("sextctl", flag + ["status"]) or [] for e in h.get("extensions") or []})
    found = sorted({i["name"] for i in g.run("sextctl", flag + ["list"], ok=(0, 9)) or []})
    target = found if want == "merged" else []
    changed = merged != target
    result = {"changed": changed, "before": merged, "after": target,
              "diff": {"before": "".join(n + "\n" for n in merged), "after": "".join(n + "\n" for n in target),
                       "before_header": cls + " merged", "after_header": cls + " merged"}}
    if changed and not g.m.check_mode:
        result["result"] = g.run("sextctl", flag + (["refresh"] if want == "merged" else ["unmerge"]), ok=(0, 9))
    return result


def update(g, p):
    comp, want, version = p["update"], p["state"], p["version"]
    args = [] if comp in (None, "", "default") else ["--component=" + comp]
    if want == "present" and not version:
        g.m.fail_json(msg="state=present needs a version")
    new = g.run("graft-update", args + ["check-new"]) or {}
    current = new.get("current")
    target = version if want == "present" else new.get("available") or current
    changed = target != current
    result = {"changed": changed, "before": current, "after": target,
              "diff": {"before": "version: %s\n" % current, "after": "version: %s\n" % target,
                       "before_header": comp or "default", "after_header": comp or "default"}}
    if changed and not g.m.check_mode:
        res = g.run("graft-update", args + ["update"] + ([version] if want == "present" else []))
        result["result"] = res
        result["after"] = res.get("version") if res.get("changed") else current
        result["changed"] = bool(res.get("changed"))
        result["diff"]["after"] = "version: %s\n" % result["after"]
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            portable=dict(type="str"),
            extensions=dict(type="str", choices=["sysext", "confext"]),
            update=dict(type="str"),
            state=dict(type="str", required=True),
            profile=dict(type="str"),
            version=dict(type="str"),
            root=dict(type="path"),
        ),
        mutually_exclusive=[["portable", "extensions", "update"]],
        required_one_of=[["portable", "extensions", "update"]],
        supports_check_mode=True,
    )
    p = module.params
    for key, states, fn in (("portable", PORTABLE_STATES, portable), ("extensions", EXTENSION_STATES, extensions),
                            ("update", UPDATE_STATES, update)):
        if p[key] is not None:
            if p["state"] not in states:
                module.fail_json(msg="%s takes state %s, not %s" % (key, ", ".join(states), p["state"]))
            result = fn(Graft(module), p)
            if not module._diff:
                result.pop("diff")
            module.exit_json(**result)


if __name__ == "__main__":
    main()
