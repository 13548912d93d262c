"""Bad NPDE-family designs: reaction expressions that try to smuggle SPICE or Python."""

import subprocess
import sys
from pathlib import Path

import pytest

DESIGNS = Path(__file__).resolve().parents[2] / "designs"
FISHER = (DESIGNS / "fisher_kpp_1d.toml").read_text(encoding="utf-8")
REACTION_LINE = 'reaction = { name = "fisher_kpp", r = 1.0 }'


def validate(tmp_path, text):
    """Run ``npdehw validate`` on ``text`` and return the finished process."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "npdehw", "validate", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("expression,token", [
    (r"u*(1-u)\n.control", r"\n"),
    ("u*(1-u); shell rm", ";"),
    (".control", "."),
    ("{u}", "{"),
    ("system(u)", "system"),
    ("__import__('os')", "'"),
    ("u*(1-w)", "w"),
    ("u $ 1", "$"),
])
def test_reaction_smuggling_rejected(tmp_path, expression, token):
    """A reaction expression outside the whitelist exits 2 naming the offending token."""
    assert FISHER.count(REACTION_LINE) == 1
    text = FISHER.replace(REACTION_LINE, f'reaction = "{expression}"')
    completed = validate(tmp_path, text)
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("npdehw: error: ")
    assert "npde.reaction" in completed.stderr
    assert len(completed.stderr.splitlines()) == 1
    assert token in completed.stderr


def test_valid_expression_accepted(tmp_path):
    """A whitelisted expression with a named parameter validates."""
    text = FISHER.replace(REACTION_LINE, 'reaction = "r*u*(1-u)"\nparameters = { r = 1.0 }')
    completed = validate(tmp_path, text)
    assert completed.returncode == 0, completed.stderr


def test_unknown_model_kind_rejected(tmp_path):
    """An unknown [npde.model] kind lists the known ones."""
    text = (DESIGNS / "schrodinger_1d.toml").read_text().replace('kind = "schrodinger"',
                                                                   'kind = "maxwell"')
    completed = validate(tmp_path, text)
    assert completed.returncode == 2
    assert "npde.model.kind" in completed.stderr
    assert "schrodinger" in completed.stderr


def test_grid_key_on_grid_free_model_rejected(tmp_path):
    """The torch_mlp model makes its own grid, so a shape key is an error."""
    text = (DESIGNS / "mlp_from_torch.toml").read_text().replace("[npde]\n", "[npde]\nshape = [4]\n")
    completed = validate(tmp_path, text)
    assert completed.returncode == 2
    assert "npde.shape" in completed.stderr
    assert "remove the key" in completed.stderr
