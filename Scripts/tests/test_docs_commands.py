"""Every `tailforge …` command line and flag the documentation shows, checked against the real command-line
interface, so the docs cannot drift from it: README.md, cluster/*.md, the job manifests' comments and the
deployment files (systemd units, the Slurm script, the Kubernetes manifests, the container file).

Static checks against `tailforge --experimental-dump-help` (the parser's own description of every subcommand):
the subcommand exists; every flag exists for it; an option has a value and a flag none; an option with a fixed set
of values gets one of them; a whole command line names every required option and argument, and no more arguments
than the command takes. A flag written alone (`--kappa-min`) must exist on some subcommand, or be another tool's
flag named in OTHER_TOOLS_FLAGS. Dynamic check: each documented command of a subcommand that reads its input
first (balance, train, …) is run in an empty directory, where its inputs do not exist, so it stops before any work:
with a missing-file error (exit 1) if its values are in range, with a usage error (exit 64) if not.

`python3 Scripts/tests/test_docs_commands.py` prints every command found and every problem."""

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DOCUMENTS = ["README.md", "cluster/README.md", "cluster/PROTOCOL.md", "jobs/*.yaml", "cluster/systemd/*",
             "cluster/slurm/*", "cluster/kubernetes/*.yaml", "cluster/kubernetes/*/*.yaml", "cluster/kubernetes/make-secrets",
             "cluster/container/Containerfile"]

# Flags the docs name alone that belong to other tools (Slurm, podman, Scripts/…) and no tailforge subcommand.
OTHER_TOOLS_FLAGS = {
    "--cpus-per-task",  # Slurm
    "--runtime", "--dump-dom", "--screenshot",  # podman, chromium
    "--image", "--debug", "--binary", "--rebuild-base", "--mirror",  # Scripts/build-image, Scripts/test-deploy
    "--layouts-only", "--nice", "--publish", "--rows", "--part",  # Scripts/benchmark-*, tailforge-bench
    "--test", "--max-points", "--neighbours",  # Scripts/plots
    "--draws",  # Scripts/bayes-bound
    "--backend", "--device", "--pretrained", "--class-names-from", "--skip-unreadable", "--quiet",  # Scripts/extract-embeddings
}

# Words that stand for "the tailforge executable" at the start of a shell command.
EXECUTABLE_WORDS = re.compile(r"^(tailforge|\$\{?(TAILFORGE|tailforge|bin|BIN)\}?|(\S*/)?\.build/(debug|release)/tailforge|/usr/local/bin/tailforge|localhost/tailforge:\S+)$")
# Words that come before the executable without being it.
PREFIX_WORDS = {"sudo", "exec", "time", "nohup", "setsid", "command", "env", "do", "then", "else", "{", "!"}
PLACEHOLDER = re.compile(r"[A-Z]{2,}|^[A-Z]$|\$|…|\.\.\.|<|>|\*")
# Subcommands run by the dynamic check: each reads (or checks) its input before it does any work.
RUNNABLE = {"balance", "materialize", "train", "evaluate", "predict", "ablate", "replay", "submit"}


def interface(tailforge):
    """{subcommand: {"options": {name: argument}, "positionals": [argument]}} from the parser's own dump."""
    dump = json.loads(subprocess.run([tailforge, "--experimental-dump-help"], capture_output=True, text=True, check=True,
                                     env=dict(os.environ, TAILFORGE_BLAS_AUTOSELECT="0")).stdout)
    commands = {}
    for command in [dump["command"]] + dump["command"].get("subcommands", []):
        options, positionals = {}, []
        for argument in command.get("arguments", []):
            if argument["kind"] == "positional":
                positionals.append(argument)
                continue
            for name in argument.get("names", []):
                options[("-" if name["kind"] == "short" else "--") + name["name"]] = argument
        # ArgumentParser's built-in flags, which its dump leaves out.
        for name in ("--help-hidden", "--experimental-dump-help", "--generate-completion-script"):
            options.setdefault(name, {"kind": "flag", "names": [{"kind": "long", "name": name[2:]}], "isOptional": True})
        key = "" if command is dump["command"] else command["commandName"]
        commands[key] = {"options": options, "positionals": positionals}
    return commands


class Command:
    """One documented use of tailforge: its words after the executable, where it is, and whether it is a whole
    command line (required arguments checked) or a fragment such as `train --calibrate`."""

    def __init__(self, words, where, whole):
        self.words, self.where, self.whole = words, where, whole

    def __repr__(self):
        return f"{self.where}: tailforge {' '.join(self.words)}"


def shell_words(text):
    """Shell words of one logical line, split into simple commands at ; && || | & ( ); None if it does not lex."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    commands, current = [], []
    for token in tokens:
        if token and set(token) <= set(";&|()"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


def tailforge_words(words):
    """The words after the tailforge executable in one simple command, or None if it runs something else."""
    i = 0
    while i < len(words) and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]) or words[i] in PREFIX_WORDS):
        i += 1
    if i < len(words) and words[i] == "podman" and "run" in words[i:i + 2]:
        images = [j for j in range(i, len(words)) if words[j].startswith("localhost/tailforge:")]
        return without_redirections(words[images[0] + 1:]) if images else None
    if i < len(words) and EXECUTABLE_WORDS.match(words[i]):
        return without_redirections(words[i + 1:])
    return None


def without_redirections(words):
    """Drops `>/dev/null`, `2> log`, `<<'END'` and the like."""
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif re.match(r"^\d*(>>?|<<?)", word):
            skip = re.match(r"^\d*(>>?|<<?)&?$", word) is not None
        else:
            kept.append(word)
    return kept


def logical_lines(lines, first_line):
    """Joins backslash-continued lines; yields (line number of the first, text)."""
    buffer, start = "", None
    for number, line in enumerate(lines, first_line):
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        yield start, buffer + line
        buffer, start = "", None
    if buffer:
        yield start, buffer


def commands_in_shell(lines, path, first_line, whole=True):
    found = []
    for number, text in logical_lines(lines, first_line):
        for words in shell_words(text) or []:
            rest = tailforge_words(words)
            if rest is not None:
                found.append(Command(rest, f"{path}:{number}", whole))
    return found


INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
LONE_FLAG = re.compile(r"^(--[a-z][a-z0-9-]*)")


def commands_in_markdown(text, path, subcommands):
    """Commands in fenced shell blocks and inline code spans (which may wrap across lines); lone flags
    (`--kappa-min`) come back separately."""
    found, lone = [], []
    prose = []  # (line number, line) outside fences
    fence, block, block_start = None, [], 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence, block, block_start = stripped[3:].strip(), [], number + 1
            else:
                if fence in ("", "sh", "bash", "shell", "console"):
                    found += commands_in_shell(block, path, block_start)
                fence = None
            prose.append((number, ""))
            continue
        if fence is not None:
            block.append(line)
            prose.append((number, ""))
        else:
            prose.append((number, line))
    joined = "\n".join(line for _, line in prose)
    for match in INLINE.finditer(joined):
        span = " ".join(match.group(1).split())
        where = f"{path}:{joined.count(chr(10), 0, match.start()) + 1}"
        # A synopsis (`[--all]`, `(--key FILE | --insecure)`, `…`) is checked for its flags, never as a whole.
        synopsis = bool(re.search(r"[\[\]|…]|\.\.\.", span))
        plain = re.sub(r"[\[\]()]", " ", span) if synopsis else span
        words = (shell_words(plain) or [plain.split()])
        for simple in words:
            rest = tailforge_words(simple)
            if rest is not None:
                # Prose quotes commands in part (`tailforge submit --wait`): only their flags are checked.
                found.append(Command(rest, where, whole=False))
            elif simple and simple[0] in subcommands and len(simple) > 1 and simple[1].startswith("-"):
                found.append(Command(simple, where, whole=False))
            elif simple and simple[0].startswith("--"):
                flag = LONE_FLAG.match(simple[0])
                if flag:
                    lone.append((flag.group(1), where))
    return found, lone


def commands_in_yaml_args(text, path):
    """`args: [...]` of a container running the tailforge image (its entry point is tailforge)."""
    found = []
    for match in re.finditer(r"^(\s*)args:\s*\[(.*?)\]", text, re.S | re.M):
        words = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(2))
        found.append(Command(words, f"{path}:{text[:match.start()].count(chr(10)) + 1 + len(match.group(1)) * 0}", True))
    return found


def documented_commands(subcommands, root=REPOSITORY):
    commands, lone = [], []
    for pattern in DOCUMENTS:
        for full in sorted(glob.glob(os.path.join(root, pattern))):
            path = os.path.relpath(full, root)
            text = open(full, encoding="utf-8").read()
            if path.endswith(".md"):
                found, flags = commands_in_markdown(text, path, subcommands)
                commands += found
                lone += flags
            elif path.endswith(".yaml"):
                commands += commands_in_yaml_args(text, path)
                # Comments name commands in backquotes, as the READMEs do.
                found, flags = commands_in_markdown("\n".join(l.split("#", 1)[1] if "#" in l else "" for l in text.split("\n")),
                                                    path, subcommands)
                commands += found
                lone += flags
            elif path.endswith(".service"):
                for number, line in enumerate(text.split("\n"), 1):
                    if line.startswith("ExecStart="):
                        commands += commands_in_shell([line[len("ExecStart="):]], path, number)
                    elif line.startswith("#") and "TAILFORGE_OPTIONS=" in line:
                        # The example options for the daemon this unit starts.
                        daemon = "coordinator" if "coordinator" in path else "worker"
                        options = line.split("TAILFORGE_OPTIONS=", 1)[1].split("(")[0]
                        words = shell_words(options)
                        if words:
                            commands.append(Command([daemon] + words[0], f"{path}:{number}", False))
            elif path.endswith("Containerfile"):
                continue  # ENTRYPOINT only; CMD ["--help"]
            else:
                lines = text.split("\n")
                # Shell scripts: the commands, and their usage comments.
                commands += commands_in_shell([l for l in lines], path, 1)
    return commands, lone


def parse(words, spec, whole, say, sub=""):
    """Reads a subcommand's words as its parser would; returns its positional words and the options it was given,
    reporting unknown flags and bad values through `say`."""
    positionals, seen, i = [], set(), 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1 and not re.match(r"^-\d", word):
            name, _, attached = word.partition("=")
            argument = spec["options"].get(name)
            if argument is None:
                say(f"`{name}` is not a flag of `{' '.join(['tailforge'] + [sub] * bool(sub))}`")
                i += 1
                continue
            seen.add(id(argument))
            if argument["kind"] == "flag":
                if attached:
                    say(f"`{name}` is a flag and takes no value")
            else:
                value = attached or (words[i + 1] if i + 1 < len(words) else None)
                if not attached:
                    if value is None or value.startswith("--"):
                        if whole:
                            say(f"`{name}` needs a value")
                        value = None
                    else:
                        i += 1
                allowed = argument.get("allValues")
                if value is not None and allowed and not PLACEHOLDER.search(value) and value not in allowed:
                    say(f"`{name} {value}`: the values are {', '.join(allowed)}")
        elif not re.match(r"^\$[A-Z_]+$", word):  # an unbraced expansion such as $TAILFORGE_OPTIONS: any words
            positionals.append(word)
        i += 1
    return positionals, seen


def missing(spec, positionals, seen):
    """The required positional arguments and options a line leaves out."""
    required = [a for a in spec["positionals"] if not a.get("isOptional")]
    options = [a for a in {id(a): a for a in spec["options"].values()}.values()
               if a["kind"] == "option" and not a.get("isOptional") and id(a) not in seen]
    return required[len(positionals):], options


def problems_of(command, cli):
    """What is wrong with one documented command, as sentences naming where it is."""
    words = command.words
    problems = []
    say = lambda what: problems.append(f"{command!r}: {what}")  # noqa: E731
    if not words or words[0].startswith("-"):
        spec, sub = cli[""], ""
    elif words[0] in cli:
        spec, sub, words = cli[words[0]], words[0], words[1:]
    elif PLACEHOLDER.search(words[0]) or words[0] == "help":
        return []
    else:
        say(f"`{words[0]}` is not a tailforge subcommand")
        return problems
    positionals, seen = parse(words, spec, command.whole, say, sub)
    if command.whole:
        declared = spec["positionals"]
        arguments, options = missing(spec, positionals, seen)
        if arguments:
            say("missing " + ", ".join(f"<{a['valueName']}>" for a in arguments))
        if not any(a.get("isRepeating") for a in declared) and len(positionals) > len(declared):
            say(f"too many arguments: {' '.join(positionals[len(declared):])} (it takes {len(declared)})")
        for argument in options:
            say(f"missing required `--{argument['preferredName']['name']}`")
    return problems


def lone_flag_problems(lone, cli):
    known = set(OTHER_TOOLS_FLAGS)
    for spec in cli.values():
        known |= set(spec["options"])
    return [f"{where}: `{flag}` is a flag of no tailforge subcommand (nor listed in OTHER_TOOLS_FLAGS)"
            for flag, where in lone if flag not in known]


# A regular file in the scratch directory: every stand-in path lies under it, so it can be neither read nor written.
BLOCKER = "blocker"


def runnable(command, cli):
    """The argument list the dynamic check runs for a command, or None. A quoted command (`balance --layout compact`)
    gets a stand-in under BLOCKER for every required argument it leaves out, and synth's and keygen's output
    directory is always one, so whatever the docs show, nothing can be read or written: in range, the command must
    stop with a missing-file or cannot-write error (exit 1)."""
    words = command.words
    if not words or words[0] not in RUNNABLE | {"synth", "keygen"} or "--help" in words or "-h" in words:
        return None
    if any(PLACEHOLDER.search(w) for w in words) or problems_of(command, cli):
        return None
    if words[0] == "train" and "--distributed" in words or words[0] == "ablate" and any(w.startswith("--coordinator") for w in words):
        return None  # they connect to a coordinator
    if words[0] == "replay" and "--local" not in words:
        return None
    spec = cli[words[0]]
    # Absolute paths are made relative, so nothing outside the scratch directory is touched.
    line = [w[1:] if w.startswith("/") else w for w in words]
    if words[0] in ("synth", "keygen"):
        line = [f"{BLOCKER}/out" if i > 0 and line[i - 1] == "--out" else w for i, w in enumerate(line)]
    # An option quoted without its value (`evaluate --train`) gets a stand-in one.
    valued = []
    for i, word in enumerate(line):
        valued.append(word)
        argument = spec["options"].get(word) if i > 0 else None
        if argument and argument["kind"] == "option" and (i + 1 == len(line) or line[i + 1].startswith("--")):
            valued.append(f"{BLOCKER}/{argument['valueName']}")
    line = valued
    positionals, seen = parse(line[1:], spec, True, lambda _: None)
    arguments, options = missing(spec, positionals, seen)
    for argument in options:
        line += [f"--{argument['preferredName']['name']}", f"{BLOCKER}/{argument['valueName']}"]
    suffix = ".yaml" if words[0] == "submit" else ".h5"  # submit reads a .h5 source as an ad-hoc job's input
    return line + [f"{BLOCKER}/{a['valueName']}{suffix}" for a in arguments]


def dynamic_problems(commands, cli, tailforge):
    """Runs each runnable command in an empty directory: in range, it must fail on its missing input (exit 1)."""
    problems = []
    with tempfile.TemporaryDirectory() as directory:
        blocker = os.path.join(directory, BLOCKER)
        for command in commands:
            line = runnable(command, cli)
            if line is None:
                continue
            open(blocker, "w").close()
            result = subprocess.run([tailforge] + line, cwd=directory, capture_output=True, text=True, timeout=60,
                                    env=dict(os.environ, TAILFORGE_BLAS_AUTOSELECT="0"), stdin=subprocess.DEVNULL)
            if result.returncode != 1:
                problems.append(f"{command!r}: `tailforge {' '.join(line)}` exited {result.returncode} where nothing can be "
                                f"read or written, expected 1: {result.stderr.strip()[-500:]}")
            leftovers = [name for name in os.listdir(directory) if name != BLOCKER]
            if leftovers:
                problems.append(f"{command!r}: left {leftovers} behind")
                for name in leftovers:
                    subprocess.run(["rm", "-rf", os.path.join(directory, name)])
    return problems


def tailforge_binary():
    from conftest import tailforge_binary as find
    return find()


@pytest.fixture(scope="module")
def cli(tailforge):
    return interface(tailforge)


@pytest.fixture(scope="module")
def documented(cli):
    return documented_commands(set(cli) - {""})


def test_the_docs_show_enough_commands_for_the_check_to_mean_something(documented):
    commands, lone = documented
    assert len(commands) >= 100 and len(lone) >= 100, f"{len(commands)} commands and {len(lone)} lone flags found"
    subcommands = {c.words[0] for c in commands if c.words}
    assert {"synth", "balance", "train", "evaluate", "predict", "materialize", "submit", "coordinator", "worker", "replay",
            "keygen", "status", "cancel", "wait", "ablate"} <= subcommands


def test_every_documented_command_and_flag_exists_with_valid_values(documented, cli):
    commands, lone = documented
    problems = [p for c in commands for p in problems_of(c, cli)] + lone_flag_problems(lone, cli)
    assert not problems, "\n".join(problems)


def test_every_documented_local_command_passes_the_range_checks(documented, cli, tailforge):
    commands, _ = documented
    assert sum(runnable(c, cli) is not None for c in commands) >= 50
    problems = dynamic_problems(commands, cli, tailforge)
    assert not problems, "\n".join(problems)


PLANTED = [
    ("tailforge balance data/train.h5 --output data/b.h5 --sed 1", "`--sed` is not a flag of `tailforge balance`"),
    ("tailforge balance data/train.h5 --seed 1", "missing required `--output`"),
    ("tailforge worker --connect tcp://h:5555 --work-dir w --log-format yaml", "`--log-format yaml`: the values are text, json"),
    ("tailforge submit jobs/demo.yaml --wait=1", "`--wait` is a flag and takes no value"),
    ("tailforge evaluate model.h5", "missing <test>"),
    ("tailforge balnce data/train.h5", "`balnce` is not a tailforge subcommand"),
    ("tailforge train data/b.h5 --output m.h5 --l2", "`--l2` needs a value"),
]


@pytest.mark.parametrize("line,message", PLANTED)
def test_a_planted_mistake_in_a_readme_is_caught(tmp_path, cli, line, message):
    """The check can fail: each mistake, planted in a copy of the README's "Using it" block, is reported."""
    readme = open(os.path.join(REPOSITORY, "README.md"), encoding="utf-8").read()
    marker = "tailforge predict model.h5 data/test.h5 --output predictions.h5\n"
    assert marker in readme
    (tmp_path / "README.md").write_text(readme.replace(marker, marker + line + "\n"))
    commands, lone = documented_commands(set(cli) - {""}, root=str(tmp_path))
    problems = [p for c in commands for p in problems_of(c, cli)]
    assert any(message in p and "README.md:" in p for p in problems), "\n".join(problems)


def test_a_planted_lone_flag_and_an_out_of_range_value_are_caught(tmp_path, cli, tailforge):
    readme = open(os.path.join(REPOSITORY, "README.md"), encoding="utf-8").read()
    planted = readme + "\nSee `--kapa-min`.\n\n```sh\ntailforge balance data/train.h5 --output b.h5 --kappa-min 0\n```\n"
    (tmp_path / "README.md").write_text(planted)
    commands, lone = documented_commands(set(cli) - {""}, root=str(tmp_path))
    assert any("`--kapa-min`" in p for p in lone_flag_problems(lone, cli))
    out_of_range = [c for c in commands if c.words[-2:] == ["--kappa-min", "0"]]
    problems = dynamic_problems(out_of_range, cli, tailforge)
    assert len(problems) == 1 and "exited 64" in problems[0] and "--kappa-min" in problems[0], problems


@pytest.mark.parametrize("span,flag", [("balance --layout sparse", "--layout"), ("synth --preset cifar100 --seed 1", "--preset"),
                                       ("train --l2 autoo", "--l2"), ("submit --shards 0", "--shards")])
def test_a_planted_bad_value_in_a_quoted_command_is_caught(tmp_path, cli, tailforge, span, flag):
    """Prose quotes commands in part; their values are checked by running them with stand-ins for the rest."""
    (tmp_path / "README.md").write_text(f"Run `{span}` first.\n")
    commands, _ = documented_commands(set(cli) - {""}, root=str(tmp_path))
    assert len(commands) == 1 and runnable(commands[0], cli) is not None
    problems = dynamic_problems(commands, cli, tailforge)
    assert len(problems) == 1 and "exited 64" in problems[0] and flag in problems[0], problems


if __name__ == "__main__":
    binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else tailforge_binary()
    spec = interface(binary)
    found, flags = documented_commands(set(spec) - {""})
    for c in found:
        print(repr(c), "" if c.whole else "(fragment)")
    issues = [p for c in found for p in problems_of(c, spec)] + lone_flag_problems(flags, spec)
    issues += dynamic_problems(found, spec, binary)
    print(f"\n{len(found)} commands, {len(flags)} lone flags, {sum(runnable(c, spec) is not None for c in found)} run; "
          f"{len(issues)} problem(s)", file=sys.stderr)
    print("\n".join(issues), file=sys.stderr)
    sys.exit(1 if issues else 0)
