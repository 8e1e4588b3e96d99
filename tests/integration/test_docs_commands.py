"""The docs' commands marked `<!-- runnable: stack -->` run, as written, against the `make up` stack
with `.run/env`'s variables set (the docs say to `source .run/env` first)."""

from __future__ import annotations

import pytest

from dmr_tools.processes import base_env
from support.docs import Block, runnable_blocks
from support.local_stack import Stack

STACK_BLOCKS = runnable_blocks("stack")


def test_the_docs_mark_commands_to_run_against_the_stack():
    assert STACK_BLOCKS, "no docs block is marked <!-- runnable: stack -->"


@pytest.mark.parametrize("block", STACK_BLOCKS, ids=[b.where for b in STACK_BLOCKS])
def test_every_stack_command_block_of_the_docs_runs(block: Block, stack: Stack):
    block.run(base_env(**stack.env), timeout_s=300)
