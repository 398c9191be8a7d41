"""How delivery reads a screen, without a terminal: what counts as a message sent."""

from __future__ import annotations

import re

from agentsup.tmux.delivery import InputBox, seen_sent


def test_a_message_counts_as_sent_when_its_tail_is_on_screen_and_not_in_the_input_box() -> None:
    box = InputBox(re.compile(r"^> (.*)$"))
    transcript = ["› queued note 1", "", "> "]
    old_frame = ["> queued note 1"]  # the history holds earlier frames: their input boxes are not the screen's
    assert seen_sent(transcript, old_frame + transcript, "queued note 1", box)
    assert not seen_sent(["> queued note 1"], old_frame, "queued note 1", box)  # pasted, never submitted
    assert not seen_sent(transcript, transcript, "queued note 2", box)  # never typed
    assert seen_sent(["a long message that wr", "aps here"], ["a long message that wr", "aps here"],
                     "a long message that wraps here", None)
