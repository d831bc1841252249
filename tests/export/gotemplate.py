"""A small evaluator for the subset of Go's text/template that tailor's Ollama templates use, for the export
tests (there is no Go toolchain or Ollama binary here): text, {{- / -}} trimming, {{ if }} / {{ else if }} /
{{ else }} / {{ end }}, {{ range PIPE }} and {{ range $i, $x := PIPE }}, fields (.A.B, $.A, $x.A), $ variables,
string and integer literals, parentheses, and the functions eq, ne, and, or, not, len, slice.
Semantics follow Go: `and`/`or` return an argument, truthiness is Go's (empty string / list, 0, nil, false)."""
import re

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(-?\d+)|(\$?[A-Za-z_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$[A-Za-z_0-9]*|\.)|([A-Za-z_][A-Za-z0-9_]*))')


def _lex(src):
    parts, pos = [], 0
    for m in _ACTION.finditer(src):
        text = src[pos:m.start()]
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        parts.append(("text", text))
        parts.append(("action", m.group(2).strip(), bool(m.group(3))))
        pos = m.end()
    parts.append(("text", src[pos:]))
    out = []
    trim_next = False
    for p in parts:
        if p[0] == "text":
            out.append(("text", p[1].lstrip(" \t\r\n") if trim_next else p[1]))
            trim_next = False
        else:
            out.append(("action", p[1]))
            trim_next = p[2]
    return out


def _parse(items, i, stop):
    """-> (nodes, index, terminator) where terminator is the 'else ...'/'end' action that ended the list."""
    nodes = []
    while i < len(items):
        kind, body = items[i]
        i += 1
        if kind == "text":
            nodes.append(("text", body))
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            if word not in stop:
                raise ValueError(f"unexpected {{{{ {body} }}}}")
            return nodes, i, body
        if word == "if":
            branches, otherwise = [], []
            cond = body[2:].strip()
            while True:
                block, i, term = _parse(items, i, ("end", "else"))
                branches.append((cond, block))
                if term == "end":
                    break
                if term.startswith("else if"):
                    cond = term[len("else if"):].strip()
                    continue
                otherwise, i, term = _parse(items, i, ("end",))
                break
            nodes.append(("if", branches, otherwise))
        elif word == "range":
            spec = body[5:].strip()
            names = []
            m = re.match(r"(\$\w+)\s*(?:,\s*(\$\w+))?\s*:=\s*(.*)", spec, re.S)
            if m:
                names = [n for n in (m.group(1), m.group(2)) if n]
                spec = m.group(3)
            block, i, term = _parse(items, i, ("end", "else"))
            otherwise = []
            if term == "else":
                otherwise, i, term = _parse(items, i, ("end",))
            nodes.append(("range", names, spec, block, otherwise))
        else:
            nodes.append(("print", body))
    if stop:
        raise ValueError("missing {{ end }}")
    return nodes, i, None


def _truth(v):
    return not (v is None or v is False or v == 0 and not isinstance(v, str) or (hasattr(v, "__len__") and len(v) == 0))


def _field(obj, names):
    for n in names:
        obj = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
    return obj


class _Eval:
    def __init__(self, root):
        self.root = root

    def tokens(self, text):
        toks, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip():
                    raise ValueError(f"cannot parse {text[pos:]!r}")
                break
            toks.append(m)
            pos = m.end()
        return toks

    def value(self, m, dot, env):
        if m.group(3):
            return bytes(m.group(3)[1:-1], "utf-8").decode("unicode_escape")
        if m.group(4):
            return int(m.group(4))
        ref = m.group(5)
        if ref == ".":
            return dot
        if ref.startswith("$"):
            head, *rest = ref.split(".")
            base = self.root if head == "$" else env[head]
            return _field(base, rest)
        return _field(dot, ref.split(".")[1:])

    def call(self, name, args):
        if name == "eq":
            return any(args[0] == a for a in args[1:])
        if name == "ne":
            return args[0] != args[1]
        if name == "and":
            for a in args:
                if not _truth(a):
                    return a
            return args[-1]
        if name == "or":
            for a in args:
                if _truth(a):
                    return a
            return args[-1]
        if name == "not":
            return not _truth(args[0])
        if name == "len":
            return len(args[0])
        if name == "slice":
            return args[0][args[1]:args[2] if len(args) > 2 else None]
        raise ValueError(f"unknown function {name}")

    def pipe(self, toks, pos, dot, env):
        """Evaluates one command (up to ')' or the end) -> (value, next position)."""
        operands = []
        while pos < len(toks) and not toks[pos].group(2):
            m = toks[pos]
            if m.group(1):
                v, pos = self.pipe(toks, pos + 1, dot, env)
                pos += 1  # the ')'
                operands.append(v)
                continue
            operands.append(("fn", m.group(6)) if m.group(6) else self.value(m, dot, env))
            pos += 1
        if operands and isinstance(operands[0], tuple) and operands[0][0] == "fn":
            return self.call(operands[0][1], operands[1:]), pos
        if len(operands) != 1:
            raise ValueError(f"cannot evaluate {[t.group(0) for t in toks]}")
        return operands[0], pos

    def expr(self, text, dot, env):
        return self.pipe(self.tokens(text), 0, dot, env)[0]

    def run(self, nodes, dot, env, out):
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "print":
                v = self.expr(node[1], dot, env)
                out.append("" if v is None else str(v))
            elif node[0] == "if":
                for cond, block in node[1]:
                    if _truth(self.expr(cond, dot, env)):
                        self.run(block, dot, env, out)
                        break
                else:
                    self.run(node[2], dot, env, out)
            else:
                _, names, spec, block, otherwise = node
                seq = self.expr(spec, dot, env) or []
                if not seq:
                    self.run(otherwise, dot, env, out)
                for i, item in enumerate(seq):
                    inner = dict(env)
                    if len(names) == 1:
                        inner[names[0]] = item
                    elif len(names) == 2:
                        inner[names[0]], inner[names[1]] = i, item
                    self.run(block, item, inner, out)


def render(template, data):
    nodes, _, _ = _parse(_lex(template), 0, ())
    out = []
    _Eval(data).run(nodes, data, {}, out)
    return "".join(out)
