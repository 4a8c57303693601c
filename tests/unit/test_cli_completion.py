"""Shell completion (issue 20, item 8): a shell asks with ``_COMMANDPOST_COMPLETE`` set and no arguments.

``cli_root.main`` used to answer that with the root help page, so bash offered its 74 lines as
completions. Bash is driven for real (the script ``bash_source`` prints, then its completion
function); zsh and fish through the entry point their scripts call, in Typer's protocol.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from commandpost.cli_root import COMMANDS
from tests.cli_support import run_cli

COMMANDPOST = Path(sys.executable).with_name("commandpost")


def _installed(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed console script with no arguments, as a shell's completion function runs it."""
    return subprocess.run(
        [str(COMMANDPOST)], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )


@pytest.mark.parametrize("instruction", ["bash_complete", "complete_bash"])  # Click's order, Typer's
def test_the_installed_script_completes_command_names_only(instruction):
    done = _installed(
        {"_COMMANDPOST_COMPLETE": instruction, "COMP_WORDS": "commandpost inc", "COMP_CWORD": "1"}
    )
    assert (done.returncode, done.stdout.splitlines(), done.stderr) == (0, ["incidents", "incident"], "")


def test_bash_itself_completes_through_the_script_commandpost_prints():
    script = (
        'eval "$(_COMMANDPOST_COMPLETE=bash_source commandpost)"\n'
        "COMP_WORDS=(commandpost inc); COMP_CWORD=1; _commandpost_completion commandpost\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
        "COMP_WORDS=(commandpost incident sh); COMP_CWORD=2; _commandpost_completion commandpost\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "PATH": f"{COMMANDPOST.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("_COMMANDPOST_COMPLETE", None)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["incidents", "incident", "show"]


def _bash(words: str, cword: int) -> list[str]:
    done = run_cli(
        [], env={"_COMMANDPOST_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    )
    assert (done.returncode, done.stderr) == (0, ""), done
    return done.stdout.splitlines()


def test_every_command_name_and_root_option_completes_and_nothing_else():
    assert sorted(_bash("commandpost ", 1)) == sorted(COMMANDS)
    assert _bash("commandpost --", 1) == ["--version", "--install-completion", "--show-completion", "--help"]
    assert _bash("commandpost db ", 2) == ["upgrade", "status"]  # a group's subcommands, loaded lazily


@pytest.mark.parametrize("instruction", ["zsh_complete", "complete_zsh"])
def test_zsh_gets_names_with_their_help(instruction):
    done = run_cli([], env={"_COMMANDPOST_COMPLETE": instruction, "_TYPER_COMPLETE_ARGS": "commandpost inc"})
    assert done.returncode == 0
    assert done.stdout.startswith('_arguments \'*: :(("incidents":"Incidents, newest first."\n"incident":')
    assert "Usage" not in done.stdout


@pytest.mark.parametrize("instruction", ["fish_complete", "complete_fish"])
def test_fish_gets_names_with_their_help(instruction):
    env = {
        "_COMMANDPOST_COMPLETE": instruction,
        "_TYPER_COMPLETE_ARGS": "commandpost inc",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    }
    done = run_cli([], env=env)
    assert done.returncode == 0
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["incidents", "incident"]


@pytest.mark.parametrize(
    ("instruction", "marker"),
    [
        ("bash_source", "_COMMANDPOST_COMPLETE=complete_bash"),
        ("source_bash", "_COMMANDPOST_COMPLETE=complete_bash"),
        ("zsh_source", "_COMMANDPOST_COMPLETE=complete_zsh"),
        ("fish_source", "_COMMANDPOST_COMPLETE=complete_fish"),
    ],
)
def test_the_source_scripts_call_back_in_typers_protocol(instruction, marker):
    done = run_cli([], env={"_COMMANDPOST_COMPLETE": instruction})
    assert done.returncode == 0 and marker in done.stdout
    assert "Usage" not in done.stdout


@pytest.mark.parametrize(
    "env",
    [
        {"_COMMANDPOST_COMPLETE": "complete_bash", "COMP_WORDS": "commandpost inc", "COMP_CWORD": "one"},
        {"_COMMANDPOST_COMPLETE": "complete_bash", "COMP_WORDS": "commandpost inc", "COMP_CWORD": "²"},
        {"_COMMANDPOST_COMPLETE": "complete_bash", "COMP_CWORD": "1"},
    ],
)
def test_a_malformed_bash_request_is_one_line_not_a_traceback(env):
    done = run_cli([], env=env)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "commandpost: bash completion needs COMP_WORDS and a numeric COMP_CWORD\n"


def test_an_unknown_instruction_is_refused_without_the_help_page():
    done = run_cli([], env={"_COMMANDPOST_COMPLETE": "tcsh_complete"})
    assert (done.returncode, done.stdout) == (1, "")
    assert "not supported" in done.stderr


def test_without_the_variable_no_arguments_is_still_the_help_page():
    done = run_cli([], env={"_COMMANDPOST_COMPLETE": None})
    assert done.returncode == 2 and "Usage: commandpost [OPTIONS] COMMAND [ARGS]..." in done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_groups_real_subcommands(shell):
    """Below the root: the names come from the group's module, loaded as completion resolves it."""
    words = "commandpost oncall swap "
    env = {"_COMMANDPOST_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        env |= {"COMP_WORDS": words, "COMP_CWORD": "3"}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": words}
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = run_cli([], env=env)
    assert (done.returncode, done.stderr) == (0, "")
    names = {"request", "accept", "decline", "withdraw", "list"}
    if shell == "zsh":  # "name":"help" pairs inside _arguments
        assert names <= set(re.findall(r'"([a-z-]+)":', done.stdout))
    else:
        assert names <= {line.split("\t")[0] for line in done.stdout.splitlines()}
