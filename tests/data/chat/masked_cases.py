"""Runs masked chat cases through render_cases (tailor's ChatMasker) and applies each case's check: the
loop shared by the chat-mask parity tests."""
import json
import subprocess
import tempfile

from harness import expect


def run_masked_cases(render, cases, checks, what):
    """Each check takes render_cases' result for its case, raises AssertionError on a mismatch and returns
    the number of trained tokens. Prints the totals; raises listing every failure."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    proc = subprocess.run([render, f.name], capture_output=True, text=True, timeout=600)
    expect(proc.returncode == 0, f"render_cases failed: {proc.stderr}")
    results = json.loads(proc.stdout)
    failures, tokens, trained = [], 0, 0
    for case, check, got in zip(cases, checks, results):
        if "error" in got:
            failures.append(f"{case.get('tokenizer')}: {got['error']}")
            continue
        try:
            trained += check(got)
            tokens += len(got["ids"])
        except AssertionError as e:
            failures.append(str(e))
    print(f"{len(cases)} masked conversations{what}, {tokens} tokens compared, {trained} trained")
    expect(not failures, f"{len(failures)} failures:\n" + "\n".join(failures))
    print("ok")
