"""Static analysis of a coding answer: the running time its loops, calls and recursion
suggest, the data structures it uses, and what can be said about its readability.

Python is read through `ast` (loop nesting, hidden linear work inside loops, sorting, halving
loops, recursion and memoisation, names, comments, docstrings, function length);
JavaScript, or another C-like language, through a small tokenizer that tracks loop nesting
by brackets. Comments and strings addressed to the grader (the shared detector,
`ai_runner.domain.injection`) are marked so they are never quoted and never count as
explanation."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ai_runner.adapters.offline_grader.injection import looks_like_instruction
from ai_runner.adapters.offline_grader.text import words
from ai_runner.domain import guard

# complexity arithmetic: (exponential, polynomial degree, log factors)

Cx = tuple[int, int, int]
O1: Cx = (0, 0, 0)
LOG: Cx = (0, 0, 1)
LIN: Cx = (0, 1, 0)
NLOGN: Cx = (0, 1, 1)
EXP: Cx = (1, 0, 0)


def _nest(a: Cx, b: Cx) -> Cx:
    return (max(a[0], b[0]), a[1] + b[1], a[2] + b[2])


def _cx_max(*items: Cx) -> Cx:
    return max(items) if items else O1


def format_complexity(cx: Cx) -> str:
    if cx[0]:
        return "O(2^n)"
    parts = []
    if cx[1] == 1:
        parts.append("n")
    elif cx[1] > 1:
        parts.append(f"n^{cx[1]}")
    if cx[2] == 1:
        parts.append("log n")
    elif cx[2] > 1:
        parts.append(f"log^{cx[2]} n")
    return f"O({' '.join(parts) or '1'})"


def parse_complexity(text: str) -> Cx | None:
    """The time bound of a description like "O(n log n) time, O(1) space"."""
    if not text:
        return None
    low = text.lower()
    m = re.search(r"o\(", low)
    if m is None:
        return None
    time_at = low.find("time")
    if time_at != -1:
        candidates = [mm.start() for mm in re.finditer(r"o\(", low[:time_at])]
        start = candidates[-1] if candidates else m.start()
    else:
        start = m.start()
    depth, i = 0, start + 1
    while i < len(low):
        if low[i] == "(":
            depth += 1
        elif low[i] == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    inner = low[start + 2 : i]
    if re.search(r"\d\s*\^\s*[a-z]|[a-z]\s*!|\^\s*n", inner):
        return EXP
    best: Cx = O1
    for term in re.split(r"\+|,|\bmin\b|\bmax\b", inner):
        t = term.replace("log", " log ")
        logs = len(re.findall(r"\blog\b", t))
        without_log = re.sub(r"\blog\s*\(?\s*[a-z]?\s*\)?", " ", t)
        deg = 0
        for var in re.finditer(r"\b([a-z])\b(?:\s*\^\s*(\d+))?", without_log):
            deg += int(var.group(2) or 1)
        mn = re.search(r"\b(mn|nm)\b", without_log)
        deg += 2 if mn else 0
        best = max(best, (0, deg, logs))
    return best


def _rank(cx: Cx) -> int:
    """Complexity classes in order: O(1) 0, O(log n) 1, O(n) 2, O(n log n) 3, O(n^2) 4, ..."""
    return 99 if cx[0] else 2 * cx[1] + min(cx[2], 1)


def gap(estimate: Cx, target: Cx) -> int:
    """How many classes slower than the target the estimate is (0 = meets it)."""
    return max(0, _rank(estimate) - _rank(target))


# ---------------------------------------------------------------------------
# static analysis of code


@dataclass
class CodeFacts:
    language: str
    source: str
    lines: list[str]
    parsed: bool = True
    parse_error: str | None = None
    complexity: Cx | None = None
    structures: set[str] = field(default_factory=set)
    structure_lines: dict[str, int] = field(default_factory=dict)  # structure -> line no.
    loop_lines: list[int] = field(default_factory=list)  # lines of the costliest loop nest
    cost_lines: list[int] = field(default_factory=list)  # sorts / hidden linear work
    injected_lines: set[int] = field(default_factory=set)
    comment_lines: int = 0
    docstring: bool = False
    typed: bool = False
    function_lines: int = 0
    max_nesting: int = 0
    names: list[str] = field(default_factory=list)
    poor_names: list[tuple[str, int]] = field(default_factory=list)
    def_line: int | None = None
    style_issues: list[tuple[str, int]] = field(default_factory=list)


_CONVENTIONAL_SHORT = frozenset(
    "i j k n m x y l r lo hi mid ch c s t p q u v w dx dy dr dc _ a b e f".split()
)
_OK_SHORT_PARAMS = frozenset("s t a b x n k nums arr".split())


def _snippet(facts: CodeFacts, line_no: int | None) -> str | None:
    if line_no is None or not 1 <= line_no <= len(facts.lines):
        return None
    if line_no in facts.injected_lines:
        return None
    text = facts.lines[line_no - 1].strip()
    if len(text) < guard.MIN_QUOTE_CHARS:
        return None
    return text[:120].rstrip() if len(text) > 120 else text


def snippets(facts: CodeFacts, line_nos: Iterable[int | None], limit: int = 3) -> tuple[str, ...]:
    out: list[str] = []
    for n in line_nos:
        s = _snippet(facts, n)
        if s and s not in out:
            out.append(s)
        if len(out) >= limit:
            break
    return tuple(out)


# --- python


_LINEAR_CALLS = frozenset(
    {
        "sum",
        "min",
        "max",
        "any",
        "all",
        "list",
        "set",
        "dict",
        "tuple",
        "sorted",
        "reversed",
        "Counter",
        "str",
    }
)
_LINEAR_METHODS = frozenset(
    {
        "index",
        "count",
        "remove",
        "insert",
        "copy",
        "join",
        "split",
        "replace",
        "find",
        "rfind",
        "extend",
        "strip",
    }
)
_LOG_CALLS = frozenset(
    {
        "bisect_left",
        "bisect_right",
        "bisect",
        "insort",
        "heappush",
        "heappop",
        "heapreplace",
        "heappushpop",
    }
)
_AMORTIZED_POPS = frozenset({"pop", "popleft"})
_HASH_CALLS = frozenset({"dict", "defaultdict", "Counter", "OrderedDict"})


class _PyAnalyser:
    def __init__(
        self, tree: ast.Module, facts: CodeFacts, function_name: str, tags: Sequence[str]
    ) -> None:
        self.tree = tree
        self.facts = facts
        self.function_name = function_name
        self.tags = {t.lower() for t in tags}
        self.hashy: set[str] = set()  # names bound to dicts / sets
        self.stack_names: set[str] = set()
        self.memoised = False
        self.funcs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    # structures -------------------------------------------------------
    def _mark(self, name: str, node: ast.AST) -> None:
        self.facts.structures.add(name)
        self.facts.structure_lines.setdefault(name, getattr(node, "lineno", 0))

    def scan(self) -> None:
        appended: dict[str, int] = {}
        popped: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.funcs.setdefault(node.name, node)
                for dec in node.decorator_list:
                    name = ast.unparse(dec)
                    if re.search(r"\b(lru_)?cache\b", name):
                        self.memoised = True
                        self._mark("memo", node)
            if isinstance(node, ast.Import | ast.ImportFrom):
                mod = node.module if isinstance(node, ast.ImportFrom) else None
                names = [a.name for a in node.names] + ([mod] if mod else [])
                for n in names:
                    if n and "heapq" in n:
                        self._mark("heap", node)
                    if n and "bisect" in n:
                        self._mark("bisect", node)
                    if n in ("deque",) or (n and n == "collections" and False):
                        self._mark("deque", node)
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                kind = self._container_kind(value)
                for t in targets:
                    if isinstance(t, ast.Name) and kind:
                        if kind in ("hash", "set"):
                            self.hashy.add(t.id)
                        self._mark(kind, node)
                        if kind == "list" and re.search(r"memo|cache|dp", t.id):
                            self._mark("dp", node)
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Tuple)
                    and isinstance(value, ast.Tuple)
                ):
                    rhs = ast.unparse(value)
                    if re.search(r"\+", rhs) and len(value.elts) == 2:
                        self._mark("dp", node)
            if isinstance(node, ast.Call):
                fname = self._call_name(node)
                if fname in (
                    "heappush",
                    "heappop",
                    "heapify",
                    "heapq.heappush",
                    "heapq.heappop",
                    "heapq.heapify",
                    "nlargest",
                    "nsmallest",
                ):
                    self._mark("heap", node)
                if fname in (
                    "bisect_left",
                    "bisect_right",
                    "bisect",
                    "bisect.bisect_left",
                    "bisect.bisect_right",
                    "insort",
                ):
                    self._mark("bisect", node)
                if fname in ("deque", "collections.deque", "Queue", "queue.Queue"):
                    self._mark("deque", node)
                if fname in ("sorted",) or (
                    isinstance(node.func, ast.Attribute) and node.func.attr == "sort"
                ):
                    self._mark("sort", node)
                if isinstance(node.func, ast.Attribute):
                    owner = ast.unparse(node.func.value)
                    if node.func.attr == "append":
                        appended.setdefault(owner, node.lineno)
                    if node.func.attr == "pop" and not node.args:
                        popped.add(owner)
                    if node.func.attr == "popleft" or (
                        node.func.attr == "pop" and node.args and ast.unparse(node.args[0]) == "0"
                    ):
                        self._mark("queue", node)
                    if node.func.attr == "add":
                        self._mark("set", node)
                if fname in ("min", "max") and len(node.args) == 2:
                    self._mark("running_extreme", node)
            if isinstance(node, ast.BinOp):
                if isinstance(node.op, ast.BitXor | ast.BitAnd | ast.BitOr | ast.LShift):
                    self._mark("bit", node)
                if isinstance(node.op, ast.RShift | ast.FloorDiv) and ast.unparse(node.right) in (
                    "1",
                    "2",
                ):
                    self._mark("halving", node)
                if (
                    isinstance(node.op, ast.FloorDiv)
                    and "*" in ast.unparse(node.left)
                    and "+" in ast.unparse(node.left)
                ):
                    self._mark("math_formula", node)
            if isinstance(node, ast.AugAssign):
                if isinstance(node.op, ast.BitXor):
                    self._mark("bit", node)
                if isinstance(node.op, ast.FloorDiv | ast.RShift):
                    self._mark("halving", node)
            if isinstance(node, ast.Attribute):
                if node.attr in ("left", "right"):
                    self._mark("tree", node)
                if node.attr == "next":
                    self._mark("linked", node)
            if isinstance(node, ast.Compare):
                for op, comp in zip(node.ops, node.comparators, strict=False):
                    if (
                        isinstance(op, ast.In | ast.NotIn)
                        and isinstance(comp, ast.Name)
                        and (comp.id in self.hashy)
                    ):
                        self._mark("hash", node)
            if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
                test = node.test
                if (
                    len(test.ops) == 1
                    and isinstance(test.ops[0], ast.Lt | ast.Gt)
                    and node.body
                    and isinstance(node.body[0], ast.Assign)
                    and ast.unparse(node.body[0].targets[0]) in ast.unparse(test)
                ):
                    self._mark("running_extreme", node)
            if isinstance(node, ast.While) and self._two_pointer(node):
                self._mark("two_pointers", node)
        for owner, line in appended.items():
            if owner in popped:
                self.facts.structures.add("stack")
                self.facts.structure_lines.setdefault("stack", line)

    @staticmethod
    def _call_name(node: ast.Call) -> str:
        return ast.unparse(node.func)

    def _container_kind(self, value: ast.AST | None) -> str | None:
        if isinstance(value, ast.Dict | ast.DictComp):
            return "hash"
        if isinstance(value, ast.Set | ast.SetComp):
            return "set"
        if isinstance(value, ast.List | ast.ListComp):
            return "list"
        if isinstance(value, ast.Call):
            name = self._call_name(value).split(".")[-1]
            if name in _HASH_CALLS:
                return "hash"
            if name == "set":
                return "set"
            if name == "deque":
                return "deque"
        return None

    @staticmethod
    def _two_pointer(node: ast.While) -> bool:
        test = node.test
        if not (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.left, ast.Name)
            and isinstance(test.comparators[0], ast.Name)
        ):
            return False
        a, b = test.left.id, test.comparators[0].id
        changed = {
            ast.unparse(t)
            for n in ast.walk(node)
            if isinstance(n, ast.Assign | ast.AugAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        }
        return a in changed and b in changed

    # cost -------------------------------------------------------------
    def cost(self) -> Cx:
        body = self.tree.body
        total = self._block(body, ())
        for name, fn in sorted(self.funcs.items()):
            calls = [
                n
                for n in ast.walk(fn)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Name | ast.Attribute)
                and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)
            ]
            if not calls:
                continue
            self._mark("recursion", calls[0])
            body_cost = self._block(fn.body, ())
            memo = self.memoised or any(
                isinstance(n, ast.Compare)
                and any(isinstance(o, ast.In | ast.NotIn) for o in n.ops)
                and any(
                    isinstance(c, ast.Name) and re.search(r"memo|cache|seen|dp", c.id)
                    for c in n.comparators
                )
                for n in ast.walk(fn)
            )
            halving = any(re.search(r"//\s*2|>>\s*1|\bmid\b", ast.unparse(c)) for c in calls)
            graphish = (
                self.tags
                & {
                    "trees",
                    "graphs",
                    "dfs",
                    "bfs",
                    "matrix",
                    "backtracking",
                    "linked-lists",
                    "recursion",
                }
                or "tree" in self.facts.structures
            )
            if halving:
                rec = LOG
            elif len(calls) >= 2 and not memo and not graphish:
                rec = EXP
            else:
                rec = LIN
            total = _cx_max(total, _nest(rec, body_cost))
            if memo:
                self._mark("memo", fn)
        return total

    def _block(self, stmts: Sequence[ast.stmt], loops: tuple[ast.AST, ...]) -> Cx:
        best = O1
        for stmt in stmts:
            best = _cx_max(best, self._stmt(stmt, loops))
        return best

    def _stmt(self, node: ast.stmt, loops: tuple[ast.AST, ...]) -> Cx:
        if isinstance(node, ast.For | ast.AsyncFor):
            own = O1 if self._constant_iter(node.iter) else LIN
            if own == LIN and loops and self._level_loop(node, loops):
                own = O1
            inner = self._block(node.body, (*loops, node))
            total = _cx_max(
                self._expr(node.iter), _nest(own, inner), self._block(node.orelse, loops)
            )
            self._note_loop(node, own, total)
            return total
        if isinstance(node, ast.While):
            own = LOG if self._halving_loop(node) else LIN
            if own == LIN and loops and self._amortized_while(node, loops):
                own = O1
            inner = _cx_max(self._block(node.body, (*loops, node)), self._expr(node.test))
            total = _nest(own, inner)
            self._note_loop(node, own, total)
            return total
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return self._block(node.body, ())
        best = O1
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                best = _cx_max(best, self._stmt(child, loops))
            elif isinstance(child, ast.expr):
                best = _cx_max(best, self._expr(child))
            elif isinstance(child, ast.ExceptHandler):
                best = _cx_max(best, self._block(child.body, loops))
        return best

    def _note_loop(self, node: ast.AST, own: Cx, total: Cx) -> None:
        if own != O1:
            line = getattr(node, "lineno", 0)
            if line not in self.facts.loop_lines:
                self.facts.loop_lines.append(line)

    def _expr(self, node: ast.expr) -> Cx:
        best = O1
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner = (
                self._expr(node.elt)
                if not isinstance(node, ast.DictComp)
                else _cx_max(self._expr(node.key), self._expr(node.value))
            )
            levels = O1
            for gen in node.generators:
                if not self._constant_iter(gen.iter):
                    levels = _nest(levels, LIN)
                best = _cx_max(best, self._expr(gen.iter))
            return _cx_max(best, _nest(levels, inner))
        if isinstance(node, ast.Call):
            name = self._call_name(node)
            short = name.split(".")[-1]
            args_const = all(self._constant_iter(a) for a in node.args) if node.args else True
            if short in ("sorted",) or (
                isinstance(node.func, ast.Attribute) and node.func.attr == "sort"
            ):
                best = NLOGN
                self._cost_line(node)
            elif short in _LOG_CALLS:
                best = LOG
                self._cost_line(node)
            elif (
                name in _LINEAR_CALLS
                and node.args
                and not args_const
                and not (short in ("min", "max") and len(node.args) >= 2)
            ):
                best = LIN
                self._cost_line(node)
            elif isinstance(node.func, ast.Attribute) and node.func.attr in _LINEAR_METHODS:
                owner = ast.unparse(node.func.value)
                fixed_size = node.func.attr == "extend" and args_const
                if owner not in self.hashy and not fixed_size:
                    best = LIN
                    self._cost_line(node)
            elif (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in ("pop", "insert")
                and node.args
                and ast.unparse(node.args[0]) == "0"
            ):
                best = LIN
                self._cost_line(node)
        if isinstance(node, ast.Compare):
            for op, comp in zip(node.ops, node.comparators, strict=False):
                if isinstance(op, ast.In | ast.NotIn) and not self._hashy(comp):
                    best = _cx_max(best, LIN)
                    self._cost_line(node)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            best = _cx_max(best, LIN)
            self._cost_line(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                best = _cx_max(best, self._expr(child))
        return best

    def _cost_line(self, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        if line and line not in self.facts.cost_lines:
            self.facts.cost_lines.append(line)

    def _hashy(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.hashy
        if isinstance(node, ast.Dict | ast.Set | ast.DictComp | ast.SetComp):
            return True
        if isinstance(node, ast.Constant | ast.Tuple | ast.List):
            return self._constant_iter(node)
        if isinstance(node, ast.Call):
            return self._call_name(node).split(".")[-1] in ("set", "dict", "frozenset", "Counter")
        return False

    @staticmethod
    def _constant_iter(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Tuple | ast.List | ast.Set):  # a display: its size is fixed
            return not any(isinstance(e, ast.Starred) for e in node.elts)
        if isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp):
            return all(_PyAnalyser._constant_iter(g.iter) for g in node.generators)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "range":
                return all(isinstance(a, ast.Constant | ast.UnaryOp) for a in node.args) and bool(
                    node.args
                )
            if node.func.id in ("enumerate", "zip", "reversed"):
                return all(_PyAnalyser._constant_iter(a) for a in node.args) and bool(node.args)
        return False

    @staticmethod
    def _halving_loop(node: ast.While) -> bool:
        text = ast.unparse(node)
        return bool(re.search(r"//\s*2\b|>>\s*1\b|//=\s*2|>>=\s*1|/\s*2\b|\bmid\b", text))

    @staticmethod
    def _level_loop(node: ast.For | ast.AsyncFor, loops: tuple[ast.AST, ...]) -> bool:
        """`for _ in range(len(q))` inside `while q`: a BFS level, amortised."""
        outer = loops[-1]
        if not isinstance(outer, ast.While):
            return False
        m = re.fullmatch(r"range\(len\((\w+)\)\)", ast.unparse(node.iter))
        return (
            m is not None and re.search(rf"\b{m.group(1)}\b", ast.unparse(outer.test)) is not None
        )

    @staticmethod
    def _amortized_while(node: ast.While, loops: tuple[ast.AST, ...]) -> bool:
        """An inner while that only advances a pointer, or pops what the outer loop pushed,
        does O(n) work in total rather than per outer iteration."""
        test = ast.unparse(node.test)
        for outer in loops:
            if isinstance(outer, ast.While):
                outer_test = ast.unparse(outer.test)
                for part in re.split(r"\band\b|\bor\b", outer_test):
                    if part.strip() and part.strip() in test:
                        return True
        pops = [
            n
            for n in ast.walk(node)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in _AMORTIZED_POPS
        ]
        if pops and any(
            ast.unparse(p.func.value) in test for p in pops if isinstance(p.func, ast.Attribute)
        ):
            return True
        body = node.body
        simple = all(isinstance(s, ast.AugAssign | ast.Expr | ast.Assign | ast.Pass) for s in body)
        moves = [
            s for s in body if isinstance(s, ast.AugAssign) and isinstance(s.op, ast.Add | ast.Sub)
        ]
        if simple and moves:
            moved = {ast.unparse(s.target) for s in moves}
            outer_resets = any(
                isinstance(n, ast.Assign) and any(ast.unparse(t) in moved for t in n.targets)
                for outer in loops
                for n in ast.walk(outer)
                if isinstance(outer, ast.For | ast.While) and n is not node
            )
            return not outer_resets
        return False


def _python_facts(source: str, function_name: str, tags: Sequence[str]) -> CodeFacts:
    lines = source.splitlines()
    facts = CodeFacts(language="python", source=source, lines=lines)
    _python_comments(source, facts)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        facts.parsed = False
        facts.parse_error = f"{exc.msg} (line {exc.lineno})"
        _heuristic_python(facts)
        return facts
    analyser = _PyAnalyser(tree, facts, function_name, tags)
    analyser.scan()
    facts.complexity = analyser.cost()
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    main = next((f for f in funcs if f.name == function_name), funcs[0] if funcs else None)
    if main is not None:
        facts.def_line = main.lineno
        facts.function_lines = (main.end_lineno or main.lineno) - main.lineno + 1
        doc = ast.get_docstring(main)
        body0 = main.body[0] if main.body else None
        if (
            doc
            and body0 is not None
            and not any(
                n in facts.injected_lines
                for n in range(body0.lineno, (body0.end_lineno or body0.lineno) + 1)
            )
        ):
            facts.docstring = True
        facts.typed = bool(main.returns) or any(a.annotation for a in main.args.args)
    facts.max_nesting = _py_nesting(tree)
    params = {a.arg for f in funcs for a in f.args.args}
    seen: set[str] = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        if name is None or name in seen:
            continue
        seen.add(name)
        facts.names.append(name)
        if (
            len(name) == 1
            and name not in _CONVENTIONAL_SHORT
            and not (name in params and name in _OK_SHORT_PARAMS)
        ):
            facts.poor_names.append((name, getattr(node, "lineno", 0)))
        elif name in ("d", "dd", "tmp", "temp", "foo", "bar", "arr2", "lst", "res2", "xx"):
            facts.poor_names.append((name, getattr(node, "lineno", 0)))
    facts.names.sort()
    return facts


def _python_comments(source: str, facts: CodeFacts) -> None:
    """Comments and string literals that talk to the grader; count honest comments."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = []
        for i, line in enumerate(source.splitlines(), start=1):
            hash_at = line.find("#")
            if hash_at != -1:
                tokens.append(
                    tokenize.TokenInfo(
                        tokenize.COMMENT, line[hash_at:], (i, hash_at), (i, len(line)), line
                    )
                )
            if looks_like_instruction(line, in_code=True) and i not in facts.injected_lines:
                facts.injected_lines.add(i)
    for tok in tokens:
        if tok.type not in (tokenize.COMMENT, tokenize.STRING):
            continue
        text = tok.string
        if looks_like_instruction(text, in_code=True):
            facts.injected_lines.update(range(tok.start[0], tok.end[0] + 1))
        elif tok.type == tokenize.COMMENT and len(words(text)) >= 2:
            facts.comment_lines += 1


def _py_nesting(tree: ast.AST) -> int:
    def depth(node: ast.AST, d: int) -> int:
        best = d
        for child in ast.iter_child_nodes(node):
            nd = (
                d + 1 if isinstance(child, ast.For | ast.While | ast.If | ast.With | ast.Try) else d
            )
            best = max(best, depth(child, nd))
        return best

    return depth(tree, 0)


def _heuristic_python(facts: CodeFacts) -> None:
    """Source that does not parse: estimate loops from indentation."""
    stack: list[int] = []
    worst = 0
    for i, line in enumerate(facts.lines, start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        while stack and indent <= stack[-1]:
            stack.pop()
        if re.match(r"\s*(for|while)\b", line):
            stack.append(indent)
            facts.loop_lines.append(i)
            worst = max(worst, len(stack))
        if re.match(r"\s*def\s", line) and facts.def_line is None:
            facts.def_line = i
    facts.complexity = (0, worst, 0)
    text = facts.source
    if re.search(r"=\s*\{\s*\}|dict\(|defaultdict|Counter\(", text):
        facts.structures.add("hash")
    if re.search(r"=\s*set\(\)|\.add\(", text):
        facts.structures.add("set")
    if re.search(r"\.append\(", text) and re.search(r"\.pop\(\)", text):
        facts.structures.add("stack")
    if re.search(r"//\s*2|>>\s*1|\bmid\b", text):
        facts.structures.add("halving")
    facts.function_lines = len([ln for ln in facts.lines if ln.strip()])


# --- javascript (and other C-like languages)

_JS_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n])*'?|`(?:\\.|[^`\\])*`?)"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<ident>[A-Za-z_$][\w$]*)"
    r"|(?P<op>=>|===|!==|==|!=|<=|>=|&&|\|\||\+\+|--|\+=|-=|\*=|/=|>>>|>>|<<|\.\.\.|\S)"
    r"|(?P<ws>\s+)",
    re.S,
)
_JS_ITER_METHODS = frozenset(
    {
        "forEach",
        "map",
        "filter",
        "reduce",
        "some",
        "every",
        "find",
        "findIndex",
        "flatMap",
        "reduceRight",
    }
)
_JS_LINEAR_METHODS = frozenset(
    {
        "indexOf",
        "includes",
        "lastIndexOf",
        "slice",
        "splice",
        "shift",
        "unshift",
        "concat",
        "join",
        "reverse",
        "split",
        "replace",
        "replaceAll",
        "fill",
        "from",
    }
)
_PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _js_tokens(source: str) -> tuple[list[_Tok], list[_Tok]]:
    toks: list[_Tok] = []
    comments: list[_Tok] = []
    line = 1
    for m in _JS_TOKEN.finditer(source):
        kind = m.lastgroup or "op"
        text = m.group(0)
        if kind == "comment":
            comments.append(_Tok(kind, text, line))
        elif kind == "string":
            toks.append(_Tok("string", text, line))
            comments.append(_Tok("string", text, line))
        elif kind != "ws":
            toks.append(_Tok(kind, text, line))
        line += text.count("\n")
    return toks, comments


class _JsAnalyser:
    def __init__(
        self, toks: list[_Tok], facts: CodeFacts, function_name: str, tags: Sequence[str]
    ) -> None:
        self.toks = toks
        self.facts = facts
        self.function_name = function_name
        self.tags = {t.lower() for t in tags}
        self.match: dict[int, int] = {}
        self.balanced = True
        stack: list[int] = []
        for i, t in enumerate(toks):
            if t.kind != "op":
                continue
            if t.text in _PAIRS:
                stack.append(i)
            elif t.text in (")", "]", "}"):
                if not stack or _PAIRS[toks[stack[-1]].text] != t.text:
                    self.balanced = False
                    if stack:
                        stack.pop()
                    continue
                self.match[stack.pop()] = i
        if stack:
            self.balanced = False

    def text(self, i: int) -> str:
        return self.toks[i].text if 0 <= i < len(self.toks) else ""

    def scan(self) -> None:
        toks = self.toks
        pushed = popped = False
        for i, t in enumerate(toks):
            x = t.text
            nxt = self.text(i + 1)
            if x == "new" and nxt in ("Map", "WeakMap"):
                self._mark("hash", t)
            if x == "new" and nxt == "Set":
                self._mark("set", t)
            if (
                x in ("const", "let", "var")
                and self.text(i + 2) == "="
                and self.text(i + 3) == "{"
                and self.text(i + 4) == "}"
            ):
                self._mark("hash", t)
            if x == "in" and toks[i - 1].kind == "ident" and i > 0 and self.text(i - 2) != "(":
                self._mark("hash", t)
            if x == "." and nxt in ("has", "get", "set") and self.text(i + 2) == "(":
                self._mark("hash", t)
            if x == "." and nxt == "push":
                pushed = True
                self.facts.structure_lines.setdefault("stack", t.line)
            if x == "." and nxt == "pop":
                popped = True
            if x == "." and nxt == "shift":
                self._mark("queue", t)
            if x == "." and nxt == "sort":
                self._mark("sort", t)
            if (
                (x in (">>", ">>>") and self.text(i + 1) == "1")
                or (x == "/" and nxt == "2")
                or (x == "mid")
            ):
                self._mark("halving", t)
            if x in ("^", "&", "|", "<<", "^="):
                self._mark("bit", t)
            if x == "." and nxt in ("left", "right"):
                self._mark("tree", t)
            if x == "." and nxt == "next":
                self._mark("linked", t)
            if (
                x == "Math"
                and self.text(i + 1) == "."
                and self.text(i + 2) in ("min", "max")
                and self.text(i + 4) != "..."
            ):
                self._mark("running_extreme", t)
            if x == "while" and nxt == "(":
                end = self.match.get(i + 1, i + 1)
                header = [tk.text for tk in toks[i + 2 : end]]
                if (
                    len(header) == 3
                    and header[1] in ("<", "<=")
                    and toks[i + 2].kind == "ident"
                    and toks[i + 4].kind == "ident"
                ):
                    self._mark("two_pointers", t)
            if x == "if" and nxt == "(":
                end = self.match.get(i + 1, i + 1)
                header = [tk.text for tk in toks[i + 2 : end]]
                if (
                    len(header) == 3
                    and header[1] in ("<", ">")
                    and self.text(end + 1) == header[2]
                    and self.text(end + 2) == "="
                ):
                    self._mark("running_extreme", t)
                if (
                    len(header) >= 3
                    and header[1] in ("<", ">")
                    and self.text(end + 1) == "{"
                    and self.text(end + 2) == header[2]
                    and self.text(end + 3) == "="
                ):
                    self._mark("running_extreme", t)
        if pushed and popped:
            self.facts.structures.add("stack")

    def _mark(self, name: str, tok: _Tok) -> None:
        self.facts.structures.add(name)
        self.facts.structure_lines.setdefault(name, tok.line)

    def cost(self) -> Cx:
        total = self._range(0, len(self.toks), ())
        # recursion: calls to the function inside its own body
        for i, t in enumerate(self.toks):
            if t.text == "function" and self.text(i + 1) == self.function_name:
                j = i + 2
                while j < len(self.toks) and self.text(j) != "{":
                    j += 1
                end = self.match.get(j, len(self.toks))
                calls = [
                    k
                    for k in range(j, end)
                    if self.text(k) == self.function_name and self.text(k + 1) == "("
                ]
                if calls:
                    self._mark("recursion", self.toks[calls[0]])
                    graphish = self.tags & {
                        "trees",
                        "graphs",
                        "dfs",
                        "bfs",
                        "matrix",
                        "backtracking",
                        "linked-lists",
                        "recursion",
                    }
                    memo = any(self.text(k) in ("memo", "cache", "dp") for k in range(j, end))
                    halving = "halving" in self.facts.structures
                    if halving:
                        rec = LOG
                    elif len(calls) >= 2 and not memo and not graphish:
                        rec = EXP
                    else:
                        rec = LIN
                    total = _cx_max(total, _nest(rec, self._range(j + 1, end, ())))
        return total

    def _body(self, start: int) -> tuple[int, int, int]:
        """The body after a loop header: (first, end, next) token indices."""
        if self.text(start) == "{":
            end = self.match.get(start, len(self.toks) - 1)
            return start + 1, end, end + 1
        depth, k = 0, start
        while k < len(self.toks):
            x = self.text(k)
            if x in _PAIRS:
                depth += 1
            elif x in (")", "]", "}"):
                depth -= 1
                if depth < 0:
                    break
            elif x == ";" and depth == 0:
                break
            k += 1
        return start, k, k + 1

    def _range(self, start: int, end: int, loops: tuple[str, ...]) -> Cx:
        best = O1
        k = start
        while k < end:
            t = self.toks[k]
            x = t.text
            if x in ("for", "while") and t.kind == "ident" and self.text(k + 1) == "(":
                hdr_end = self.match.get(k + 1, k + 1)
                header = " ".join(tk.text for tk in self.toks[k + 2 : hdr_end])
                b0, b1, nxt = self._body(hdr_end + 1)
                body = " ".join(tk.text for tk in self.toks[b0:b1])
                own = self._loop_own(x, header, body, loops)
                inner = _cx_max(
                    self._range(b0, b1, (*loops, header)), self._range(k + 2, hdr_end, loops)
                )
                total = _nest(own, inner)
                if own != O1 and t.line not in self.facts.loop_lines:
                    self.facts.loop_lines.append(t.line)
                best = _cx_max(best, total)
                k = max(nxt, k + 1)
                continue
            if x == "." and self.text(k + 1) in _JS_ITER_METHODS and self.text(k + 2) == "(":
                end_call = self.match.get(k + 2, k + 2)
                inner = self._range(k + 3, end_call, (*loops, "callback"))
                best = _cx_max(best, _nest(LIN, inner))
                if t.line not in self.facts.loop_lines:
                    self.facts.loop_lines.append(t.line)
                k = end_call + 1
                continue
            if x == "." and self.text(k + 1) == "sort" and self.text(k + 2) == "(":
                best = _cx_max(best, NLOGN)
                self._cost_line(t)
            elif x == "." and self.text(k + 1) in _JS_LINEAR_METHODS and self.text(k + 2) == "(":
                best = _cx_max(best, LIN)
                self._cost_line(t)
            elif x == "...":
                best = _cx_max(best, LIN)
                self._cost_line(t)
            k += 1
        return best

    def _cost_line(self, t: _Tok) -> None:
        if t.line not in self.facts.cost_lines:
            self.facts.cost_lines.append(t.line)

    @staticmethod
    def _loop_own(kind: str, header: str, body: str, loops: tuple[str, ...]) -> Cx:
        if kind == "for":
            if re.search(r"\bof\s*\[", header) or (
                re.search(r"[<>]=?\s*\d+\s*;", header)
                and not (re.search(r"\.length|\bn\b", header))
            ):
                return O1
            if (
                loops
                and re.search(r"\.length\b", header)
                and re.search(r"<\s*(\w+)\s*\.\s*length", header)
            ):
                return LIN
            return LIN
        if re.search(r">>\s*1|/\s*2\b|\bmid\b", body) or re.search(r">>\s*1|/\s*2\b", header):
            return LOG
        for outer in loops:
            for part in re.split(r"&&|\|\|", outer):
                part = part.strip()
                if part and part in header:
                    return O1
        if loops and re.fullmatch(r"[\w\s+\-;=]*", body) and re.search(r"\+\+|--|\+=|-=", body):
            return O1
        return LIN


def _js_facts(source: str, function_name: str, tags: Sequence[str]) -> CodeFacts:
    lines = source.splitlines()
    facts = CodeFacts(language="javascript", source=source, lines=lines)
    toks, comments = _js_tokens(source)
    for c in comments:
        if looks_like_instruction(c.text, in_code=True):
            facts.injected_lines.update(range(c.line, c.line + c.text.count("\n") + 1))
        elif c.kind == "comment" and len(words(c.text)) >= 2:
            facts.comment_lines += 1
    analyser = _JsAnalyser(toks, facts, function_name, tags)
    if not analyser.balanced:
        facts.parsed = False
        facts.parse_error = "unbalanced brackets"
    analyser.scan()
    facts.complexity = analyser.cost()
    for i, t in enumerate(toks):
        if t.text == "function" and facts.def_line is None:
            facts.def_line = t.line
            j = i
            while j < len(toks) and toks[j].text != "{":
                j += 1
            end = analyser.match.get(j)
            facts.function_lines = (toks[end].line - t.line + 1) if end is not None else len(lines)
    if facts.def_line is None:
        facts.def_line = next((i for i, ln in enumerate(lines, 1) if "=>" in ln), None)
        facts.function_lines = len([ln for ln in lines if ln.strip()])
    depth = best = 0
    for t in toks:
        if t.text == "{":
            depth += 1
            best = max(best, depth)
        elif t.text == "}":
            depth -= 1
    facts.max_nesting = max(0, best - 1)
    seen: set[str] = set()
    for i, t in enumerate(toks):
        if t.text in ("let", "const", "var") and i + 1 < len(toks):
            j = i + 1
            names = []
            while j < len(toks) and toks[j].kind == "ident":
                names.append(toks[j])
                # skip the initialiser up to a comma at depth 0
                depth, k = 0, j + 1
                while k < len(toks):
                    x = toks[k].text
                    if x in _PAIRS:
                        depth += 1
                    elif x in (")", "]", "}"):
                        depth -= 1
                        if depth < 0:
                            break
                    elif depth == 0 and x in (",", ";", "of", "in"):
                        break
                    k += 1
                if _tok_text(toks, k) == ",":
                    j = k + 1
                else:
                    break
            for nt in names:
                if nt.text in seen:
                    continue
                seen.add(nt.text)
                facts.names.append(nt.text)
                if len(nt.text) == 1 and nt.text not in _CONVENTIONAL_SHORT:
                    facts.poor_names.append((nt.text, nt.line))
        if t.text == "var":
            facts.style_issues.append(("uses `var` instead of `let`/`const`", t.line))
        if t.text in ("==", "!="):
            facts.style_issues.append(("loose equality (`==`) instead of `===`", t.line))
    facts.names.sort()
    return facts


def _tok_text(toks: list[_Tok], k: int) -> str:
    return toks[k].text if 0 <= k < len(toks) else ""


def code_facts(source: str, language: str, function_name: str, tags: Sequence[str]) -> CodeFacts:
    if language == "python":
        return _python_facts(source, function_name, tags)
    return _js_facts(source, function_name, tags)


def estimate_complexity(
    source: str, language: str = "python", *, function_name: str = "", tags: Sequence[str] = ()
) -> str | None:
    """The grader's estimate of the running time of `source`, e.g. "O(n log n)"; `tags`
    are the question's (they decide, for one, whether double recursion is a tree walk)."""
    facts = code_facts(source, normalise_language(language, source), function_name, tags)
    return format_complexity(facts.complexity) if facts.complexity is not None else None


def normalise_language(language: str | None, code: str) -> str:
    """python or javascript (the brace-language heuristic also serves Java, C, Go...)."""
    lang = (language or "").strip().lower()
    if lang in ("python", "python3", "py", "py3"):
        return "python"
    if lang:
        return "javascript"
    if re.search(r"^\s*def\s+\w+\s*\(", code, re.M) or re.search(
        r"^\s*(import|from)\s+\w+", code, re.M
    ):
        return "python"
    return "javascript"
