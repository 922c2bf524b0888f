"""Which earlier snapshot the CI check compares with, in a throwaway git repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from contract import history

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(history, "ROOT", tmp_path)
    monkeypatch.setattr(history, "SNAPSHOT", tmp_path / history.RELATIVE)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "contract").mkdir()
    _git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _commit_snapshot(root: Path, text: str) -> None:
    (root / history.RELATIVE).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", text)


def test_first_snapshot_has_nothing_to_compare_with(repo: Path) -> None:
    _commit_snapshot(repo, "v1")
    assert history.previous_snapshot() is None


def test_uncommitted_snapshot_is_compared_with_head(repo: Path) -> None:
    _commit_snapshot(repo, "v1")
    (repo / history.RELATIVE).write_text("v2")
    label, text = history.previous_snapshot() or ("", "")
    assert (label.split()[0], text) == ("HEAD", "v1")


def test_branch_is_compared_with_its_merge_base_with_main(repo: Path) -> None:
    _commit_snapshot(repo, "v1")
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit_snapshot(repo, "v2")
    _commit_snapshot(repo, "v3")
    label, text = history.previous_snapshot() or ("", "")
    assert label.startswith("main at")
    assert text == "v1"


def test_on_main_a_merge_is_compared_with_main_before_it(repo: Path) -> None:
    _commit_snapshot(repo, "v1")
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit_snapshot(repo, "v2")
    _commit_snapshot(repo, "v3")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "feature", "-m", "merge")
    label, text = history.previous_snapshot() or ("", "")
    assert "the last commit that changed it" in label
    assert text == "v1"
