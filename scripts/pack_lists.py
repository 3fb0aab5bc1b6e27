#!/usr/bin/env python3
"""Writes the value lists of rules/t1204_003/lists/ into the pack's rules.

It fills the runtime rules (rules/t1204_003/*.toml), the scan rules
(rules/t1204_003/scan/*.toml) and the scan pack's YARA rules
(rules/t1204_003/scan/yara/*.yar), whose marks are the same C comments.

A rule query marks where a list goes with a comment naming the list and the
form it takes there, and the end of the list:

    dns.question.name : (/* list: pool-domains as domains */ ... /* end list */)

Forms:
  strings      "a", "b"                    quoted values
  domains      "a.com", "*.a.com"          each domain and its subdomains
  domain-args  "a.com", "*.a.com:*", ...     a domain in an argument (host, host:port, URL)
  env-domains  "*=a.com", "*.a.com:*", ...   a domain in an environment value (KEY=host[:port], KEY=URL)
  url-hosts    "*://a.com/*", ...            a domain as the host of a URL in a command line
  command-names "<regex>"                  a command line that runs one of the names (a word)
  ports        3333, 4444                  numbers
  algo-options "--algo=rx/0", "-a=rx/0"    a miner's algorithm given inline
  registries   "ghcr.io/*"                 images from these registries
  typosquats   "<regex>", ...              image names one edit from each target
  officials    "<regex>"                   image names that are official images or targets
  namespaced   "<regex>"                   official names under a Docker Hub namespace
  verified     "<regex>"                   the same, under a namespace of the list
  yara-host-ports $a_com = /a\.com:[0-9]{2,5}/  YARA strings, one a line (in .yar files): a domain
                                             with a port, as a miner is given its pool

Run it after editing a list; `--check` fails (exit 1) when a rule is not up to
date with its lists, which the tests run."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACK = ROOT / "rules" / "t1204_003"  # --pack DIR: another copy of the pack
MARK = re.compile(r"/\* list: ([a-z-]+) as ([a-z-]+) \*/(.*?)/\* end list \*/", re.S)
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def read_list(name):
    path = PACK / "lists" / f"{name}.txt"
    values = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            values.append(line)
    return values


def quoted(values):
    return ", ".join(f'"{v}"' for v in values)


def lucene(text):
    """A name as a Lucene regular expression matching exactly it."""
    return "".join("\\" + c if c in ".?+*|{}[]()\"\\#@&<>~" else c for c in text)


# An image reference: optional registry and namespaces, the repository, an
# optional tag and an optional digest (name:tag@sha256:...).
def image_regex(repositories, namespaces=None):
    names = "|".join(repositories)
    prefix = "([^/]+/)*" if namespaces is None else f"([^/]+/)*({namespaces})/"
    return f"{prefix}({names})(:[^/]*)?(\\@.*)?"


def one_edit(name, edits):
    """Lucene patterns of names one edit from `name`."""
    out = set()
    for i in range(len(name)):
        out.add(lucene(name[:i] + name[i + 1:]))                       # dropped
        if i + 1 < len(name) and name[i] != name[i + 1]:
            out.add(lucene(name[:i] + name[i + 1] + name[i] + name[i + 2:]))  # swapped
        out.add(lucene(name[:i] + name[i] + name[i:]))                  # doubled
        if edits:
            out.add(lucene(name[:i]) + "[a-z0-9]" + lucene(name[i + 1:]))   # replaced
            if i > 0:
                out.add(lucene(name[:i]) + "[a-z0-9]" + lucene(name[i:]))   # added inside
    return {p for p in out if len(p.replace("[a-z0-9]", "x")) >= 4}


def eql_string(regex):
    """A regular expression as an EQL string: backslashes doubled."""
    return '"' + regex.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(name, form):
    if form == "typosquats":
        # One expression per target: each stays small enough to match cheaply.
        return ", ".join(eql_string(image_regex(sorted(one_edit(target, edits=len(target) > 5))))
                         for target in read_list(name))
    if form == "officials":
        # The official images, and the typosquat targets themselves (a replaced
        # letter can be the same letter: jenkins is one "edit" from jenkins).
        names = sorted(set(read_list(name)) | set(read_list("typosquat-targets")))
        return eql_string(image_regex([lucene(n) for n in names]))
    if form in ("namespaced", "verified"):
        # An official name under a Docker Hub namespace (no registry host, or
        # docker.io's): every one ("namespaced"), or those of verified namespaces.
        officials = "|".join(lucene(n) for n in read_list("official-images"))
        hub = "((docker\\.io|index\\.docker\\.io|registry-1\\.docker\\.io)/)?"
        namespace = "[^/.:]+" if form == "namespaced" else "(" + "|".join(lucene(n) for n in read_list(name)) + ")"
        return eql_string(f"{hub}{namespace}/({officials})(:[^/]*)?(\\@.*)?")
    values = read_list(name)
    if form == "strings":
        return quoted(values)
    if form == "domains":
        return quoted(v for d in values for v in (d, f"*.{d}"))
    if form == "domain-args":
        # A pool in an argument: the host alone, host:port, or inside a URL.
        return quoted(v for d in values for v in (d, f"*.{d}", f"{d}:*", f"*.{d}:*", f"*.{d}/*", f"*/{d}",
                                                      f"*/{d}:*", f"*/{d}/*"))
    if form == "env-domains":
        # KEY=host, KEY=host:port, KEY=scheme://host[:port][/path], and subdomains.
        return quoted(v for d in values for v in (f"*={d}", f"*={d}:*", f"*={d}/*", f"*.{d}", f"*.{d}:*",
                                                      f"*.{d}/*", f"*/{d}", f"*/{d}:*", f"*/{d}/*"))
    if form == "url-hosts":
        # The host of a URL (with or without a scheme, as curl and wget take it).
        return quoted(v for d in values for v in (f"*://{d}/*", f"*://{d}:*", f"*://*.{d}/*", f"*://*.{d}:*",
                                                      f"* {d}/*", f"* *.{d}/*"))
    if form == "command-names":
        # A name as a command word: first, or after a space, a slash or a shell
        # separator, and followed by the end, a space or a separator.
        names = "|".join(lucene(v) for v in values)
        return eql_string(f"(.*[ /;\\&\\|])?({names})([ ;\\&\\|].*)?")
    if form == "yara-host-ports":
        # One YARA regular expression a line, named after the list and the value.
        prefix = name.replace("-", "_")
        lines = []
        for v in values:
            pattern = re.sub(r"([^A-Za-z0-9-])", r"\\\1", v)  # dots and any other punctuation escaped
            lines.append(f"${prefix}_{re.sub('[^A-Za-z0-9]', '_', v)} = /{pattern}:[0-9]{{2,5}}/ ascii wide nocase")
        return "\n".join(lines)
    if form == "ports":
        return ", ".join(values)
    if form == "algo-options":
        return quoted(v for a in values for v in (f"--algo={a}", f"-a={a}", f"--algorithm={a}"))
    if form == "registries":
        # Nothing listed: a registry no image name can have.
        return quoted(v for r in values or ["registry.invalid"] for v in (f"{r}/*",))
    sys.exit(f"pack_lists.py: unknown form {form!r} for list {name!r}")


def wrap(text, indent, width=100):
    """The values one per group, wrapped at `width`."""
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|[^,\s]+', text)
    lines, line = [], ""
    for part in parts:
        piece = part + ","
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    lines[-1] = lines[-1].rstrip(",")
    return ("\n" + indent).join(lines)


def update(text):
    def replace(match):
        name, form = match.group(1), match.group(2)
        values = render(name, form)
        line_start = text.rfind("\n", 0, match.start()) + 1
        indent = " " * (len(text[line_start:match.start()]) - len(text[line_start:match.start()].lstrip()) + 2)
        if form.startswith("yara-"):
            # YARA strings stand one a line, at the mark's own indent.
            indent = indent[2:]
            return f"/* list: {name} as {form} */\n{indent}" + values.replace("\n", "\n" + indent) + \
                f"\n{indent}/* end list */"
        return f"/* list: {name} as {form} */\n{indent}{wrap(values, indent)}\n{indent}/* end list */"
    return MARK.sub(replace, text)


def main():
    global PACK
    arguments = sys.argv[1:]
    check = "--check" in arguments
    if "--pack" in arguments:
        PACK = pathlib.Path(arguments[arguments.index("--pack") + 1]).resolve()
    stale = []
    targets = sorted(PACK.glob("*.toml")) + sorted(PACK.glob("scan/*.toml")) + sorted(PACK.glob("scan/yara/*.yar"))
    for path in targets:
        text = path.read_text()
        new = update(text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    for path in stale:
        print(f"{path}: {'not up to date with its lists' if check else 'updated'}")
    if check and stale:
        print("run scripts/pack_lists.py to write the lists into the rules", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
