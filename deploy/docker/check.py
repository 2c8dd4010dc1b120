#!/usr/bin/env python3
"""docflow-specific checks of deploy/docker/Dockerfile* (run by
deploy/validate.sh next to hadolint, which lints general Dockerfile practice).

- the build stage runs the README's build command
  (`cargo build --release -p docflow --locked`) and the README, when present,
  documents exactly that command;
- the image that runs (the last stage, and the `tools` stage) switches to a
  non-root numeric USER and has docflow as ENTRYPOINT;
- runtime stages install no compilers;
- every `COPY --from=` names an earlier stage; every FROM is pinned to a tag;
- the CUDA image points docflow at NVRTC and the CUDA headers;
- .dockerignore keeps target/, .git and the local stack state out of the context.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_COMMAND = "cargo build --release -p docflow --locked"
COMPILERS = re.compile(r"\b(g\+\+|gcc|cmake|clang|build-essential|cargo|rustc|nvcc)\b")


def instructions(path):
    """[(lineno, INSTRUCTION, args)] with continuation lines joined."""
    out, buf, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if buf and s.lstrip().startswith("#"):
                continue
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            word, _, rest = buf.strip().partition(" ")
            out.append((start, word.upper(), rest.strip()))
            buf = ""
    return out


def stages(instrs):
    """[{name, base, lines: [(n, INSTR, args)]}] in order."""
    out = []
    for n, ins, args in instrs:
        if ins == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            out.append({"name": (m.group(2) or str(len(out))).lower(), "base": m.group(1), "line": n, "lines": []})
        elif out:
            out[-1]["lines"].append((n, ins, args))
    return out


def check_dockerfile(path, problems):
    rel = os.path.relpath(path, ROOT)
    instrs = instructions(path)
    args = {a.split("=", 1)[0]: (a.split("=", 1)[1] if "=" in a else None)
            for _, ins, a in instrs if ins == "ARG" for a in [a]}
    st = stages(instrs)
    if not st:
        problems.append(f"{rel}: no FROM")
        return
    names = [s["name"] for s in st]
    for i, s in enumerate(st):
        base = s["base"]
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1)) or m.group(0), base)
        if resolved.lower() not in names[:i] and ":" not in resolved and "@" not in resolved:
            problems.append(f"{rel}:{s['line']}: FROM {base} is not pinned to a tag")
        for n, ins, a in s["lines"]:
            m = re.search(r"--from=(\S+)", a) if ins == "COPY" else None
            if m and m.group(1).lower() not in names[:i]:
                problems.append(f"{rel}:{n}: COPY --from={m.group(1)} names no earlier stage")
    builds = [(s, n, a) for s in st for n, ins, a in s["lines"] if ins == "RUN" and "cargo build" in a]
    if not builds:
        problems.append(f"{rel}: no stage runs cargo build")
    for s, n, a in builds:
        if BUILD_COMMAND not in a:
            problems.append(f"{rel}:{n}: build must run the README's `{BUILD_COMMAND}`")
    built_in = {s["name"] for s, _, _ in builds}
    for s in st:
        if s["name"] in built_in:
            continue
        for n, ins, a in s["lines"]:
            if ins == "RUN" and "apt-get install" in a and COMPILERS.search(a):
                problems.append(f"{rel}:{n}: stage {s['name']} installs a compiler ({COMPILERS.search(a).group(0)}); runtime images carry none")
    shipped = [st[-1]] + [s for s in st if s["name"] == "tools"]
    by_name = {s["name"]: s for s in st}
    for s in shipped:
        chain, cur = [], s
        while cur:  # USER/ENTRYPOINT may be inherited from a base stage in this file
            chain.insert(0, cur)
            cur = by_name.get(cur["base"].lower())
        users = [a for c in chain for _, ins, a in c["lines"] if ins == "USER"]
        if not users or users[-1].split(":")[0] in {"root", "0"} or not re.match(r"\d+", users[-1]):
            problems.append(f"{rel}: stage {s['name']} must end as a numeric non-root USER (got {users[-1:] or 'none'})")
        eps = [a for c in chain for _, ins, a in c["lines"] if ins == "ENTRYPOINT"]
        if not eps or "docflow" not in eps[-1]:
            problems.append(f"{rel}: stage {s['name']} must have ENTRYPOINT docflow")
    if "cuda" in os.path.basename(path):
        env = " ".join(a for _, ins, a in instrs if ins == "ENV")
        for var in ("DOCFLOW_NVRTC_LIB", "DOCFLOW_CUDA_INCLUDE", "DOCFLOW_KERNEL_CACHE"):
            if var not in env:
                problems.append(f"{rel}: CUDA image must set {var}")
        if not re.search(r"nvidia/cuda:13\.", " ".join(a for _, ins, a in instrs if ins in {"ARG", "FROM"})):
            problems.append(f"{rel}: CUDA image must be based on an nvidia/cuda:13.x image")


def check_readme(problems):
    readme = os.path.join(ROOT, "README.md")
    if not os.path.exists(readme):
        print("docker: README.md absent; build command compared with the Dockerfiles only")
        return
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if BUILD_COMMAND not in text:
        problems.append(f"README.md does not show the build command the images run: `{BUILD_COMMAND}`")


def check_dockerignore(problems):
    path = os.path.join(ROOT, ".dockerignore")
    try:
        with open(path, encoding="utf-8") as f:
            entries = {l.strip().strip("/") for l in f if l.strip() and not l.startswith("#")}
    except OSError:
        problems.append(".dockerignore missing (the context would carry target/ and .git)")
        return
    for want in ("target", ".git", ".state"):
        if want not in entries:
            problems.append(f".dockerignore must exclude {want}")
    for keep in ("topics", "schemas", "kernels", "pipeline", "Cargo.lock", "*.md", "README.md"):
        if keep in entries:
            problems.append(f".dockerignore excludes {keep}, which the build needs (include_str!, --locked)")


def main():
    problems = []
    files = sorted(f for f in os.listdir(HERE) if f.startswith("Dockerfile"))
    for f in files:
        check_dockerfile(os.path.join(HERE, f), problems)
    check_readme(problems)
    check_dockerignore(problems)
    for p in problems:
        print(f"docker: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"docker: {', '.join(files)}: build command, non-root runtime, stages and .dockerignore OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
