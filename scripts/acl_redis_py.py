#!/usr/bin/env python3
"""redis-py's ACL calls against redis-server and meshkv side by side: the same calls must give the
same results. Usage: acl_redis_py.py REDIS_PORT MESHKV_PORT (both servers fresh, no password)."""
import sys

import redis


def run(port):
    out = []
    r = redis.Redis(port=port, decode_responses=True)

    def step(name, fn):
        try:
            value = fn()
        except redis.RedisError as e:
            value = f"{type(e).__name__}: {e}"
        if isinstance(value, dict):  # GETUSER: the commands field's order differs (see README)
            value = {k: v for k, v in value.items() if k not in ("commands", "categories")}
        if isinstance(value, list) and value and isinstance(value[0], dict):  # ACL LOG
            value = [{k: v for k, v in e.items() if k not in ("age-seconds", "client-info")} for e in value]
        out.append((name, value))

    step("log reset", r.acl_log_reset)
    step("setuser", lambda: r.acl_setuser("py", enabled=True, passwords=["+secret"], keys=["cache:*"],
                                          channels=["news"], commands=["+get", "+set", "+publish", "-@dangerous", "+ping"]))
    step("setuser reset", lambda: r.acl_setuser("py2", reset=True, enabled=True, nopass=True,
                                                categories=["+@read"], keys=["%R~r:*"]))
    step("getuser", lambda: r.acl_getuser("py"))
    step("getuser2", lambda: r.acl_getuser("py2"))
    step("getuser none", lambda: r.acl_getuser("nobody"))
    step("setuser selectors", lambda: r.acl_setuser("py3", enabled=True, nopass=True, commands=["+get"], keys=["a:*"],
                                                    selectors=[("+set", "%W~app*"), ("+@read", "~r:*")]))
    step("getuser selectors", lambda: r.acl_getuser("py3"))
    w = redis.Redis(port=port, decode_responses=True, username="py3", password="x")
    step("selector set ok", lambda: w.set("app:1", "v"))
    step("selector get denied", lambda: w.get("app:1"))
    step("selector read ok", lambda: w.get("r:1"))
    step("deluser selectors", lambda: r.acl_deluser("py3"))
    step("users", r.acl_users)
    step("whoami", r.acl_whoami)
    step("cat", r.acl_cat)
    step("dryrun", lambda: r.acl_dryrun("py", "set", "x", "1"))
    u = redis.Redis(port=port, decode_responses=True)
    step("auth bad", lambda: u.auth("wrong", "py"))
    step("auth", lambda: u.auth("secret", "py"))
    step("whoami py", u.acl_whoami)
    step("set ok", lambda: u.set("cache:1", "v"))
    step("get ok", lambda: u.get("cache:1"))
    step("get denied", lambda: u.get("other"))
    step("lpush denied", lambda: u.lpush("cache:l", "x"))
    step("publish denied", lambda: u.publish("chat", "m"))
    step("publish ok", lambda: u.publish("news", "m"))
    v = redis.Redis(port=port, decode_responses=True, username="py2", password="x")
    step("py2 get", lambda: v.get("r:1"))
    step("py2 get denied", lambda: v.get("w:1"))
    step("log", r.acl_log)
    step("deluser", lambda: r.acl_deluser("py", "py2"))
    step("users after", r.acl_users)
    return out


a, b = run(int(sys.argv[1])), run(int(sys.argv[2]))
bad = 0
for (name, want), (_, got) in zip(a, b):
    mark = "same" if want == got else "DIFF"
    bad += want != got
    print(f"{mark:4} {name}: {got!r}" + ("" if want == got else f"\n     redis: {want!r}"))
print(f"{len(a) - bad} of {len(a)} the same")
sys.exit(1 if bad else 0)
