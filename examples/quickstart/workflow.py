"""The quickstart workflow written with the Python builder; the same graph as workflow.yaml.

    weft run examples/quickstart/workflow.py            # through the CLI
    python examples/quickstart/workflow.py              # as a plain script (journaled too)
    python examples/quickstart/workflow.py --report /tmp/report.md

The CLI imports this file and runs the ``workflow`` variable. Relative paths
start at this file's folder, as in the YAML version.
"""

from __future__ import annotations

import argparse
import sys

# `weft run` and `python workflow.py` both put this folder on the import path.
from quickstart_tools import (
    build_vocabulary,
    keywords,
    list_documents,
    read_document,
    readability,
    text_statistics,
    write_report,
)

from weft import Workflow, run_sync

workflow = Workflow(
    "quickstart",
    description=(
        "Statistics, keywords and readability of every document in a folder, as one report."
    ),
)
workflow.input(
    "folder",
    type="string",
    default="docs",
    description="Folder of .txt documents (relative paths start at this file's folder).",
)
workflow.input(
    "report",
    type="string",
    default="report.md",
    description="Where to write the Markdown report (relative paths start at this file's folder).",
)

docs = workflow.node(
    "list",
    list_documents,
    with_={"folder": "${inputs.folder}"},
    description="Find the documents.",
)
read = workflow.node(
    "read",
    read_document,
    after=docs,
    foreach=docs.ref,
    with_={"path": "${item}"},
    description="Read every document, in parallel.",
)
# Three lanes fan out from `read`; each runs once per document, in parallel.
stats = workflow.node(
    "stats",
    text_statistics,
    after=read,
    foreach=read.ref,
    with_={"document": "${item}"},
    description="Words, sentences, paragraphs, reading time per document.",
)
ease = workflow.node(
    "readability",
    readability,
    after=read,
    foreach=read.ref,
    with_={"document": "${item}"},
    description="Flesch reading ease and Flesch-Kincaid grade per document.",
)
vocabulary = workflow.node(
    "vocabulary",
    build_vocabulary,
    after=read,
    with_={"documents": read.ref},
    description="Document frequencies of every content word, for tf-idf.",
)
terms = workflow.node(
    "keywords",
    keywords,
    after=[read, vocabulary],
    foreach=read.ref,
    with_={"document": "${item}", "vocabulary": vocabulary.ref},
    description="Top tf-idf keywords per document.",
)
report = workflow.node(
    "report",
    write_report,
    after=[stats, ease, terms, vocabulary],
    with_={
        "stats": stats.ref,
        "readability": ease.ref,
        "keywords": terms.ref,
        "vocabulary": vocabulary.ref,
        "path": "${inputs.report}",
    },
    description="Join the analyses into one Markdown report.",
)
workflow.output("report", "${report.path}")
workflow.output("documents", "${report.documents}")
workflow.output("words", "${report.words}")
workflow.output("top_keywords", "${report.top_keywords}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="docs", help="folder of .txt documents")
    parser.add_argument("--report", default="report.md", help="where to write the report")
    args = parser.parse_args()
    result = run_sync(workflow, {"folder": args.folder, "report": args.report})
    if not result.ok:
        print(f"run {result.run_id} {result.state.value}: {result.error}", file=sys.stderr)
        return 1
    outputs = result.outputs
    print(f"analysed {outputs['documents']} documents ({outputs['words']} words)")
    print(f"top keywords: {', '.join(outputs['top_keywords'])}")
    print(f"report: {outputs['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
