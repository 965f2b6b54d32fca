"""The backup and restore drill, small: a dump and a media archive restore into a fresh database
with every row, every file and every encrypted field intact (keys from the escrow file only)."""

import shutil
from pathlib import Path

import pytest

from proof import backup_drill
from proof.drills.stack import PG_BIN

needs_postgres = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or not Path(backup_drill.PG_DUMP).exists()
    or shutil.which("runuser") is None,
    reason="PostgreSQL server binaries and pg_dump are needed",
)  # fmt: skip


@pytest.mark.slow
@needs_postgres
def test_a_restored_backup_matches_row_for_row_and_file_for_file(capsys):
    result = backup_drill.drill(patients=6, studies=3, keep=False)
    assert result["ok"], result["problems"]
    assert result["rows_restored"] == result["rows"] > 0
    assert result["files_matched"] == result["files"] == 3
    assert result["decrypted_with_escrowed_keys"] == result["blind_indexes_ok"] == 6
    assert result["wrong_key_decrypt_failures"] == 6
    # The imaging originals are encrypted too: the escrowed keys open them, a wrong key none.
    assert result["originals_decrypted"] == result["wrong_key_original_failures"] == 3
    assert result["audit_chain_ok"]
    assert "verify" in capsys.readouterr().out
