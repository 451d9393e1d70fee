#!/usr/bin/env python3
"""Marks the comment above each public declaration in include/nnlite as Doxygen's (/// instead of //).

nnlite writes a short comment above every public class and function; Doxygen only reads '///' comments. This script
finds comment blocks that sit directly above a declaration at namespace or class scope (not inside function bodies,
not the file's header comment) and turns their '//' into '///'. With --check it changes nothing and exits 1 when a
block would change, so CI can keep the headers in that form.

Usage: doc_comments.py [--check] [root]   (root defaults to include/nnlite next to this script's repository)
"""
import pathlib
import re
import sys

DECL_KEYWORDS = re.compile(r"^(template\b|class\b|struct\b|enum\b|union\b|using\b|inline\b|constexpr\b|static\b|"
                           r"virtual\b|explicit\b|friend\b|typename\b|const\b|[A-Za-z_~][\w:<>,\s\*&]*[\s\*&]~?\w+\s*[\(=;{\[]|"
                           r"[A-Za-z_~][\w:<>]*\s*\(|\w+\s*,?$|\w+\s*=)")


def scope_kind(header):
    """What a '{' opens, from the text of the declaration before it."""
    h = header.strip()
    if re.match(r"^(namespace\b|extern\s+\"C)", h):
        return "namespace"
    if re.search(r"(^|\s)(class|struct|union)\s+\w+[^()]*$", h) or re.match(r"^(template\s*<.*>\s*)?(class|struct)\b", h):
        if "(" not in h.split("{")[0] or re.match(r"^(template\s*<.*>\s*)?(class|struct)\b", h):
            return "type"
    if re.match(r"^(enum\b)", h):
        return "enum"
    return "block"


def strip_strings(line):
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return line.split("//")[0]


def convert(text):
    lines = text.split("\n")
    out = list(lines)
    stack = []  # scope kinds
    pending = ""  # declaration text since the last ';', '{' or '}' at this level
    comment_block = []  # indices of the comment lines directly above the current line
    seen_code = False  # the file's header comment (before any code) is not a declaration's
    changed = False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("//"):
            if not s.startswith("///"):
                comment_block.append(i)
            else:
                comment_block = []
            continue
        if not s:
            comment_block = []
            continue
        if s.startswith("#"):
            comment_block = []
            if s.startswith("#pragma once"):
                seen_code = True
            continue
        documentable = seen_code and all(k in ("namespace", "type") for k in stack) and not pending.strip()
        if documentable and comment_block and DECL_KEYWORDS.match(s) and not s.startswith(("public:", "private:",
                                                                                            "protected:")):
            for j in comment_block:
                new = re.sub(r"^(\s*)//(?!/)", r"\1///", out[j])
                if new != out[j]:
                    out[j] = new
                    changed = True
        comment_block = []
        seen_code = True
        code = strip_strings(line)
        for ch in code:
            if ch == "{":
                stack.append(scope_kind(pending + " " + code.split("{")[0]) if not stack or stack[-1] != "block"
                             else "block")
                pending = ""
            elif ch == "}":
                if stack:
                    stack.pop()
                pending = ""
            elif ch == ";":
                pending = ""
            else:
                pending += ch
        if re.match(r"^\s*(public|private|protected)\s*:", code):
            pending = ""
        pending += " "
    return "\n".join(out), changed


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = pathlib.Path(args[0]) if args else pathlib.Path(__file__).resolve().parents[2] / "include" / "nnlite"
    stale = []
    for path in sorted(root.rglob("*.hpp")):
        text = path.read_text()
        new, changed = convert(text)
        if changed:
            stale.append(path)
            if not check:
                path.write_text(new)
    if check and stale:
        print("comments above public declarations should be '///' (run tests/scripts/doc_comments.py):")
        for p in stale:
            print("  " + str(p))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
