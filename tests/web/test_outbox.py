"""The demo's mail outbox page reads Django's file backend output, newest first."""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend

from keiin.web.outbox import read_outbox


def test_messages_are_read_back_newest_first_with_japanese_text(tmp_path):
    backend = EmailBackend(file_path=str(tmp_path))
    messages = [
        EmailMessage("ワンタイムパスワード", "   123456\n", "keiin@localhost", ["a@example.jp"]),
        EmailMessage(
            "Invitation", "https://keiin.example/p/x/welcome/1/t/", "k@l", ["b@example.jp"]
        ),
    ]
    assert backend.send_messages(messages) == 2
    got = read_outbox(tmp_path)
    assert [m.subject for m in got] == ["Invitation", "ワンタイムパスワード"]
    assert got[1].to == "a@example.jp" and "123456" in got[1].body


def test_garbage_and_missing_folders_are_harmless(tmp_path):
    assert read_outbox(tmp_path / "nothing-here") == []
    (tmp_path / "x.log").write_bytes(b"\\xff\\x00 not a message\\n" + b"-" * 79 + b"\\n")
    assert all(m.subject == "" for m in read_outbox(tmp_path))
