#!/usr/bin/env python3
"""Renders the evaluation's JSON (bench_evaluate --out) as docs/results.md
with PNG plots beside it. Run by scripts/evaluate.sh; needs matplotlib.

usage: report_results.py RESULTS.json OUT.md PLOT_DIR

The JSON document:
  config, machine, date, seconds
  architectures.<arch>: base_accuracy, plain_epoch_seconds, owner_images,
      null_accuracies[]            (or error)
  runs[]: architecture, run, scheme, bits, code_family, base_accuracy,
      embed_seconds (per licensee), embed_epochs, trace_seconds,
      trace_load_ratio, queries, copies[] (a row per licensee's clean copy),
      attacks[] (rows), null {models, false_accusations, min_p_value,
      max_bit_accuracy, min_p_values[]}, scaling[] {licensees,
      trace_seconds, load_seconds, queries, hypotheses, plan_seconds}
      (or error)
  a row: attack, parameter, x, accuracy, verdict, accused[],
      innocent_accused[], true_accused, traced, p_value, bit_accuracy,
      matches, bits, evidence, trace_seconds, attack_seconds,
      attack_note (or error)
"""
import itertools
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

THRESHOLD = 1e-6


def pct(x):
    return f"{100 * x:.1f}"


def fmt_p(p):
    if p is None:
        return "–"
    if p >= 0.01:
        return f"{p:.2f}"
    return f"{p:.0e}" if p > 0 else "0"


def cell(row, truth_count=1):
    """One robustness cell: traced or not, p-value, bit accuracy, accuracy left."""
    if "error" in row:
        return "error: " + row["error"].replace("|", "/")[:90]
    if truth_count > 1:
        mark = f"{row['true_accused']}/{truth_count} named"
    else:
        mark = "traced" if row["traced"] else "**removed**"
    parts = [mark, "p " + fmt_p(row.get("p_value"))]
    if "bit_accuracy" in row:
        parts.append(f"bits {pct(row['bit_accuracy'])}%")
        if row["bit_accuracy"] <= 0.1 and row.get("evidence") != "keys":
            parts.append("bits inverted")
    parts.append(f"acc {pct(row['accuracy'])}")
    text = ", ".join(parts)
    if row.get("innocent_accused"):
        text += " **innocent accused: " + " ".join(row["innocent_accused"]) + "**"
    if row.get("attack_note"):
        text += " (attacker's embedding did not converge)"
    return text


def runs_of(doc, arch):
    return [r for r in doc["runs"] if r["architecture"] == arch]


def attack_keys(runs):
    keys = []
    for run in runs:
        for row in run.get("attacks", []):
            key = (row["attack"], row["parameter"])
            if key not in keys:
                keys.append(key)
    return keys


def find_row(run, key):
    for row in run.get("attacks", []):
        if (row["attack"], row["parameter"]) == key:
            return row
    return None


def plot_pruning(doc, arch, path):
    fig, (ax_bits, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for run in runs_of(doc, arch):
        rows = [r for r in run.get("attacks", []) if r["attack"] == "prune" and "error" not in r]
        if not rows:
            continue
        xs = [0] + [100 * r["x"] for r in rows]
        clean = run["copies"][0]
        bits = [clean.get("bit_accuracy", math.nan)] + [r.get("bit_accuracy", math.nan) for r in rows]
        acc = [clean["accuracy"]] + [r["accuracy"] for r in rows]
        ax_bits.plot(xs, [100 * b for b in bits], marker="o", label=run["run"])
        ax_acc.plot(xs, [100 * a for a in acc], marker="o", label=run["run"])
    ax_bits.set(xlabel="weights pruned (%)", ylabel="bit / key accuracy of the true licensee (%)",
                title=f"{arch}: mark under pruning")
    ax_acc.set(xlabel="weights pruned (%)", ylabel="test accuracy (%)", title=f"{arch}: task accuracy")
    ax_bits.axhline(50, color="grey", lw=0.5, ls="--")
    ax_bits.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_fine_tuning(doc, arch, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    # Several schemes keep the same p-value: vary markers so none hides another.
    markers = itertools.cycle("osD^v")
    styles = itertools.cycle(["-", "--", ":", "-."])
    for run in runs_of(doc, arch):
        rows = [r for r in run.get("attacks", []) if r["attack"] == "fine-tune" and "error" not in r]
        if not rows:
            continue
        xs = [0] + [r["x"] for r in rows]
        ps = [run["copies"][0]["p_value"]] + [r["p_value"] for r in rows]
        ax.plot(xs, [-math.log10(max(p, 1e-300)) for p in ps], marker=next(markers),
                ls=next(styles), label=run["run"])
    ax.axhline(6, color="red", lw=1, ls="--", label="accusation threshold (p = 1e-6)")
    ax.set(xlabel="attacker fine-tuning epochs", ylabel="-log10 p of the true licensee",
           title=f"{arch}: evidence under fine-tuning")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_scaling(doc, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in doc["runs"]:
        rows = [r for r in run.get("scaling", []) if "error" not in r]
        if not rows:
            continue
        ax.plot([r["licensees"] for r in rows], [r["trace_seconds"] for r in rows], marker="o",
                label=f"{run['run']} ({run['architecture']})")
    ax.set(xscale="log", yscale="log", xlabel="licensees in the store", ylabel="trace seconds",
           title="trace time against store size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    results_path, md_path, plot_dir = sys.argv[1:4]
    with open(results_path) as f:
        doc = json.load(f)
    os.makedirs(plot_dir, exist_ok=True)
    rel = os.path.relpath(plot_dir, os.path.dirname(md_path))
    c = doc["config"]
    out = []
    w = out.append
    w("# Robustness and cost results\n")
    w("Generated by `scripts/evaluate.sh` (bench/evaluate.cc, bench/evaluation.cc, this page by "
      "bench/report_results.py) from `" + os.path.basename(results_path) + "`; do not edit by hand. "
      f"Run of {doc.get('date', '?')}, {doc['seconds'] / 60:.0f} min on {doc['machine']['cores']} cores.\n")
    w("## Setup\n")
    w(f"- Data: Fashion-MNIST (`{c['data']}`). The owner trains the base model and embeds on rows "
      f"{c['owner_rows']}; the attacker uses rows {c['attacker_rows']} (data the owner never used; "
      f"a tenth held out for the overwriting attacker's own accuracy check); null models train on rows "
      f"{c['null_rows']}; every accuracy is on the 10 000-image test split.")
    w(f"- Each scheme run is released to {c['licensees']} licensees (l0…l{c['licensees'] - 1}) with "
      f"seed {c['seed']} and its defaults; attacks hit l0's copy (averaging: l0…l(k−1)). A licensee "
      f"is accused at p ≤ 1e-6 after Bonferroni correction (docs/tracing.md).")
    w(f"- Attacks (core/include/tracemark/attacks.h): fine-tuning all layers with Adam lr "
      f"{c['fine_tune_lr']} for 1…{c['fine_tune_epochs']} epochs; re-training the last layer for 2 "
      f"epochs; magnitude pruning of every weight matrix at {', '.join(pct(x) + '%' for x in c['prune_fractions'])}; "
      f"int8 per-tensor weight quantization; weight shifting (w − 1.5 × mean over output filters + "
      f"noise 0.1·std, then 1 epoch of fine-tuning); overwriting (the attacker runs the same scheme "
      f"with a fresh key, their data and random bits, accuracy budget 1 point); parameter averaging "
      f"of {', '.join(str(k) for k in c['colluders'])} copies; distillation for {c['distill_epochs']} "
      f"epochs at T = 4 into a freshly initialised student of the same architecture trained only on "
      f"the copy's outputs.")
    w(f"- Null models: {c['null_models']} per architecture, each trained for {c['null_epochs']} "
      "epoch(s) from its own seed on the null rows, traced against every run's key store.\n")
    for arch, a in doc["architectures"].items():
        if "error" in a:
            w(f"- **{arch}: not evaluated: {a['error']}**")
            continue
        nulls = a["null_accuracies"]
        w(f"- {arch}: base accuracy {pct(a['base_accuracy'])} %, one plain fine-tuning epoch on the "
          f"{a['owner_images']} owner images {a['plain_epoch_seconds']:.1f} s; null models "
          f"{len(nulls)}, accuracy {pct(min(nulls))}–{pct(max(nulls))} %.")
    w("")
    w("Cells read: **traced** (the true licensee is accused) or **removed** (not accused), the "
      "true licensee's corrected p-value, its bit accuracy (or the fraction of its trigger keys "
      "answered, for black-box DeepSigns), and the test accuracy the attack left. Averaging "
      "cells say how many colluders were named. An innocent accusation is written out in bold. "
      "\"bits inverted\": nearly every bit reads flipped, so the mark is still present but negated; "
      "the trace tests codes as embedded, not their complements, so such a copy counts as removed.\n")

    failures = []
    for arch in doc["architectures"]:
        runs = runs_of(doc, arch)
        if not runs:
            continue
        w(f"## {arch.upper()}\n")
        w("### Cost and calibration\n")
        w("| run | bits | copy accuracy (%) | embed s / licensee | embed / plain epoch | trace s | "
          "trace / load | queries | clean copies traced | null models accusing anyone | "
          "smallest null p |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for run in runs:
            if "error" in run:
                w(f"| {run['run']} | release failed: {run['error']} |||||||||")
                failures.append(f"{arch} {run['run']}: release failed: {run['error']}")
                continue
            accs = [r["accuracy"] for r in run["copies"] if "accuracy" in r]
            exact = sum(1 for r in run["copies"] if r.get("traced") and not r.get("innocent_accused"))
            null = run["null"]
            w(f"| {run['run']} | {run['bits']} ({run['code_family']}) | {pct(min(accs))}–{pct(max(accs))} "
              f"(base {pct(run['base_accuracy'])}) | {run['embed_seconds']:.2f} | {run['embed_epochs']:.2f} | "
              f"{run.get('trace_seconds', 0):.3f} | {run.get('trace_load_ratio', 0):.1f} | "
              f"{run.get('queries', 0)} | {exact}/{len(run['copies'])} | "
              f"{null['false_accusations']}/{null['models']} | {fmt_p(null['min_p_value'])} |")
            if null["false_accusations"]:
                failures.append(f"{arch} {run['run']}: {null['false_accusations']} null models accused someone")
            if exact < len(run["copies"]):
                failures.append(f"{arch} {run['run']}: only {exact} of {len(run['copies'])} clean copies traced exactly")
        w("")
        w("### Attacks\n")
        ok_runs = [r for r in runs if "error" not in r]
        w("| attack | " + " | ".join(r["run"] for r in ok_runs) + " |")
        w("|---|" + "---|" * len(ok_runs))
        for key in attack_keys(ok_runs):
            cells = []
            for run in ok_runs:
                row = find_row(run, key)
                if row is None:
                    cells.append("not run")
                    continue
                truth = int(row["x"]) if key[0] == "average" else 1
                cells.append(cell(row, truth))
                if row.get("innocent_accused"):
                    failures.append(f"{arch} {run['run']} {key[0]} {key[1]}: innocent accused "
                                    + " ".join(row["innocent_accused"]))
            w(f"| {key[0]} {key[1]} | " + " | ".join(cells) + " |")
        w("")
        for name, plot in (("pruning", plot_pruning), ("fine-tuning", plot_fine_tuning)):
            png = f"{arch}-{name}.png"
            plot(doc, arch, os.path.join(plot_dir, png))
            w(f"![{arch} {name}]({rel}/{png})\n")

    w("## Trace time against the number of licensees\n")
    sizes = doc["config"]["scaling_licensees"]
    w("Measured on the first architecture. Licensees beyond the release's own are registered the "
      "way a release registers them (codes drawn, keys stored) without embedding copies; their "
      "per-copy keys (black-box DeepSigns) repeat the first copy's, so tracing does the work that "
      "many real copies would cost.\n")
    w("| run | " + " | ".join(f"{n} licensees" for n in sizes) + " |")
    w("|---|" + "---|" * len(sizes))
    for run in doc["runs"]:
        if "scaling" not in run:
            continue
        cells = []
        for row in run["scaling"]:
            if "error" in row:
                cells.append("error: " + row["error"].replace("|", "/")[:80])
            else:
                q = f", {row['queries']} queries" if row.get("queries") else ""
                cells.append(f"{row['trace_seconds']:.3f} s{q}")
        w(f"| {run['run']} ({run['architecture']}) | " + " | ".join(cells) + " |")
    w("")
    plot_scaling(doc, os.path.join(plot_dir, "trace-scaling.png"))
    w(f"![trace scaling]({rel}/trace-scaling.png)\n")

    w("## What the run shows\n")
    removed = []
    for run in doc["runs"]:
        for row in run.get("attacks", []):
            if "error" in row:
                failures.append(f"{run['architecture']} {run['run']} {row['attack']} {row['parameter']}: error {row['error']}")
            elif not row["traced"]:
                named = (f"{row['true_accused']} of {int(row['x'])} colluders named, "
                         if row["attack"] == "average" else "")
                removed.append(f"{run['architecture']} {run['run']}: {row['attack']} {row['parameter']} "
                               f"({named}accuracy left {pct(row['accuracy'])} %)")
    w("Attacks after which the true licensee — for averaging, every colluder — was not accused "
      "(computed from the tables above):\n")
    w("\n".join(f"- {r}" for r in removed) if removed else "- none")
    w("")
    w("Failures of the system itself (innocent accusations, clean copies not traced, errors):\n")
    w("\n".join(f"- {f}" for f in failures) if failures else "- none")
    w("")
    w("Mechanisms behind the attacks that work (what the numbers above reflect, not new measurements):\n")
    w("- Distillation trains a fresh student on the copy's outputs: weights, activation statistics "
      "and trigger answers the copy was trained to carry are not copied; a mark survives only "
      "as far as the student inherits the copy's function, while it keeps most of the task accuracy.")
    w("- Weight shifting subtracts 1.5 × the mean over output filters, which negates exactly the "
      "filter-averaged carrier that Uchida and DeepMarks project: their bits read inverted. "
      "The trace engine tests codes as embedded, not their complements.")
    w("- Averaging more copies than a code is built for: DeepMarks' BIBD code names coalitions of up "
      "to `max_colluders` (3 by default) and random codes are not collusion-secure; black-box "
      "trigger keys are per copy, and averaging dilutes each copy's answers.")
    w("- Pruning at 90 % removes some marks only together with most of the model's accuracy.")
    w("")
    with open(md_path, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
