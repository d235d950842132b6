"""Shared workflow fixtures: one rich workflow, written once in YAML."""

from __future__ import annotations

import pytest

RICH_YAML = """\
name: quickstart
version: 2
description: Summarise the documents of a folder, with a review loop.
inputs:
  folder:
    type: string
    default: docs
    description: Folder to read.
  style: concise
actions:
  summarise: {python: "my_tools:summarise"}
python_path: [lib]
defaults:
  timeout: 30
  retry: {max_attempts: 3, initial_delay: 0.5}
concurrency: 8
action_concurrency: {summarise: 2}
on_failure: continue
nodes:
  list:
    action: list_documents
    with: {folder: "${inputs.folder}"}
  stats:
    action: text_stats
    after: list
    foreach: ${list}
    concurrency: 4
    with:
      path: ${item}
      position: ${index}
  summary:
    action: summarise
    after: [list]
    with:
      files: ${list}
      prompt: |
        Summarise these files.
        Be ${inputs.style}.
  write:
    action: writer
    after:
      - stats
      - summary
      - {node: review, when: "not output.approved", max_iterations: 3}
    join: {mode: all, reducer: dict}
    timeout: 12.5
    retry: {max_attempts: 2}
  review:
    action: reviewer
    after:
      - node: write
        critic: checker
outputs:
  report: ${write}
  approved: ${review.approved}
"""


@pytest.fixture
def rich_yaml() -> str:
    return RICH_YAML
