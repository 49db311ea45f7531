"""Loading stays safe and job commands stay quoted, checked on the source tree itself: every
``torch.load`` passes ``weights_only=True`` and every ``np.load`` ``allow_pickle=False`` (no
pickle is ever unpickled), nothing calls ``pickle``/``yaml.load``-style loaders that run code,
and every value a job's shell command takes from the config is quoted (``{x:q}``) or built
with ``shlex.quote``. Each checker is also run on a bad example, so the checks can fail."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from tests.workflow_helpers import ROOT

PYTHON_DIRS = ("ifrnet", "baselines", "benchmarks", "tests")
RULES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
SNAKEMAKE_FILES = [ROOT / "Snakefile", *RULES]

# Loaders that must name their safe mode: module → function → (keyword, required value).
SAFE_MODE = {
    "torch": {"load": ("weights_only", True)},
    "np": {"load": ("allow_pickle", False)},
    "numpy": {"load": ("allow_pickle", False)},
}
# Loaders that can run code whatever their arguments (yaml.load with a safe Loader is allowed).
UNSAFE = {("pickle", "load"), ("pickle", "loads"), ("yaml", "unsafe_load"), ("dill", "load")}


def unsafe_loads(source: str, name: str = "<text>") -> list[str]:
    """``name:line: call`` for every load call of ``source`` that may unpickle."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not isinstance(owner, ast.Name):
            continue
        module, function = owner.id, node.func.attr
        where = f"{name}:{node.lineno}: {ast.unparse(node)[:80]}"
        keywords = {k.arg: k.value for k in node.keywords}
        if function in SAFE_MODE.get(module, {}):
            key, value = SAFE_MODE[module][function]
            given = keywords.get(key)
            if not (isinstance(given, ast.Constant) and given.value is value):
                found.append(where)
        elif (module, function) in UNSAFE:
            found.append(where)
        elif (module, function) == ("yaml", "load") and "safe" not in ast.unparse(node).lower():
            found.append(where)
    return found


def python_files() -> list[Path]:
    files = []
    for folder in PYTHON_DIRS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_every_load_call_names_its_safe_mode():
    found = []
    for path in python_files():
        found += unsafe_loads(path.read_text(), str(path.relative_to(ROOT)))
    for path in SNAKEMAKE_FILES:  # not Python: the same calls, found by text
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(torch|np|numpy|pickle)\.loads?\(", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "loads that may unpickle:\n" + "\n".join(found)


def test_the_load_check_finds_unsafe_calls():
    bad = (
        "torch.load(p)\ntorch.load(p, weights_only=False)\nnp.load(p)\n"
        "numpy.load(p, allow_pickle=True)\npickle.loads(b)\nyaml.load(t, Loader=yaml.Loader)\n"
    )
    assert len(unsafe_loads(bad)) == 6
    good = (
        "torch.load(p, map_location='cpu', weights_only=True)\nnp.load(p, allow_pickle=False)\n"
        "yaml.load(t, Loader=yaml.SafeLoader)\n"
    )
    assert unsafe_loads(good) == []


# Placeholders a shell command may use unquoted, each with the reason it is safe: integers,
# wildcards constrained to digits, and params built from shell-quoted pieces (shlex.quote,
# checked below where they are defined).
INTEGERS = {"threads", "params.seed", "params.batch_size", "params.volumes"}
DIGITS = {"wildcards.height", "wildcards.width"}
PREQUOTED = {"params.method_args", "params.url_source", "params.tuned", "params.published"}


def shell_commands(text: str) -> dict[str, str]:
    """Rule name → its shell command (the concatenated string literals after ``shell:``)."""
    commands = {}
    for block in re.split(r"^(?=rule \w+:)", text, flags=re.M):
        rule = re.match(r"rule (\w+):", block)
        shell = re.search(r"^    shell:\n((?:        .*\n?)+)", block, flags=re.M)
        if rule and shell:
            commands[rule.group(1)] = ast.literal_eval("(" + shell.group(1) + ")")
    return commands


def unquoted_fields(command: str) -> list[str]:
    """Placeholders of a shell command that Snakemake inserts without quoting."""
    return [
        field
        for _, field, spec, _ in string.Formatter().parse(command)
        if field is not None and spec != "q"
    ]


def param_definition(block: str, name: str, every_rule: str) -> str:
    """The code defining param ``name`` of a rule block, with the rules' functions it calls."""
    found = re.search(rf"^        {name}=(.*(?:\n {{9,}}.*)*)", block, flags=re.M)
    assert found, f"param {name} not found"
    value = found.group(1).strip().rstrip(",")
    called = [value] if value.isidentifier() else re.findall(r"(\w+)\(", value)
    functions = [
        re.search(rf"^def {name}\(.*?(?=^\S)", every_rule, flags=re.M | re.S) for name in called
    ]
    return value + "".join(f.group(0) for f in functions if f)


def quoting_faults(text: str, every_rule: str) -> list[str]:
    """``rule: placeholder`` for each unquoted placeholder that is not known to be safe."""
    faults = []
    blocks = {
        m.group(1): block
        for block in re.split(r"^(?=rule \w+:)", text, flags=re.M)
        if (m := re.match(r"rule (\w+):", block))
    }
    for rule, command in shell_commands(text).items():
        for field in unquoted_fields(command):
            if field in INTEGERS | DIGITS:
                continue
            if field in PREQUOTED:
                code = param_definition(blocks[rule], field.split(".")[1], every_rule)
                if "shlex.quote" in code:
                    continue
            faults.append(f"{rule}: {{{field}}}")
    return faults


def test_no_job_command_passes_config_text_unquoted():
    every_rule = "".join(path.read_text() for path in RULES)
    commands = [c for path in RULES for c in shell_commands(path.read_text()).values()]
    assert len(commands) >= 12  # every rule with a shell command was found
    faults = [f for path in RULES for f in quoting_faults(path.read_text(), every_rule)]
    assert not faults, f"unquoted in a shell command: {faults}"


def test_the_quoting_check_finds_unquoted_config_text():
    rule = (
        "rule bad:\n"
        "    params:\n"
        '        spec=lambda wc: "x",\n'
        '        tuned=lambda wc: " ".join(wc),\n'
        "    shell:\n"
        '        "ifrnet x --spec {params.spec} --tuned {params.tuned} "\n'
        '        "--seed {params.seed} --out {output:q}"\n'
    )
    assert quoting_faults(rule, rule) == ["bad: {params.spec}", "bad: {params.tuned}"]
