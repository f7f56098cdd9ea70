"""docs/settings.md is generated from the settings declarations and kept current; bad values are named."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from zhimei.cli import app
from zhimei.settings import Settings, SettingsError, get_settings, reset_settings, settings_markdown

DOC = ROOT / "docs" / "settings.md"
REGENERATE = ".venv/bin/zhimei settings --markdown > docs/settings.md"


def test_settings_doc_is_current():
    assert DOC.exists(), f"docs/settings.md is missing: run `{REGENERATE}`"
    current = DOC.read_text(encoding="utf-8")
    assert current == settings_markdown(), f"docs/settings.md is out of date: run `{REGENERATE}`"


def test_cli_prints_the_same_markdown():
    result = CliRunner().invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == settings_markdown()


def test_every_setting_is_documented():
    doc = DOC.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description.strip()) >= 10, f"{name} needs a description"
        assert f"`ZHIMEI_{name.upper()}`" in doc, name
    rows = [line for line in doc.splitlines() if line.startswith("| `ZHIMEI_")]
    assert len(rows) == len(Settings.model_fields)
    for line in rows:  # exactly four cells: any other pipe must be escaped
        assert len(re.findall(r"(?<!\\)\|", line)) == 5, f"a stray cell separator in: {line}"


@pytest.mark.parametrize(("var", "value", "hint"), [
    ("ZHIMEI_JOB_MAX_ATTEMPTS", "abc", "integer"),
    ("ZHIMEI_JOB_MAX_ATTEMPTS", "0", "greater than or equal to 1"),
    ("ZHIMEI_JOB_BACKEND", "nope", "'embedded' or 'celery'"),
    ("ZHIMEI_BLOB_BACKEND", "ftp", "'local' or 's3'"),
    ("ZHIMEI_PORT", "70000", "less than or equal to 65535"),
    ("ZHIMEI_JOB_LEASE_SECONDS", "-1", "greater than 0"),
])
def test_bad_value_names_the_variable(monkeypatch, tmp_path, var, value, hint):
    monkeypatch.setenv("ZHIMEI_HOME", str(tmp_path))
    monkeypatch.setenv(var, value)
    reset_settings()
    try:
        with pytest.raises(SettingsError) as info:
            get_settings()
    finally:
        monkeypatch.delenv(var)
        reset_settings()
    message = str(info.value)
    assert var in message and repr(value) in message and hint in message, message


def test_cli_refuses_a_bad_value_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIMEI_")}
    env.update(ZHIMEI_HOME=str(tmp_path), ZHIMEI_JOB_BACKEND="nope")
    proc = subprocess.run([sys.executable, "-m", "zhimei.cli", "settings"], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "ZHIMEI_JOB_BACKEND='nope'" in proc.stdout + proc.stderr


def test_settings_file_values_are_validated_too(monkeypatch, tmp_path):
    cfg = tmp_path / "settings.toml"
    cfg.write_text('job_max_attempts = "many"\nport = 8123\n', encoding="utf-8")
    monkeypatch.setenv("ZHIMEI_HOME", str(tmp_path))
    monkeypatch.setenv("ZHIMEI_SETTINGS_FILE", str(cfg))
    reset_settings()
    try:
        with pytest.raises(SettingsError, match="ZHIMEI_JOB_MAX_ATTEMPTS='many'"):
            get_settings()
        cfg.write_text("job_max_attempts = 5\nport = 8123\n", encoding="utf-8")
        reset_settings()
        monkeypatch.setenv("ZHIMEI_PORT", "8200")  # the environment wins over the file
        s = get_settings()
        assert s.job_max_attempts == 5 and s.port == 8200
    finally:
        reset_settings()
