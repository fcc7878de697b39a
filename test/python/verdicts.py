"""Cases for the helper-vs-orchestrator agreement test (helper.test.ts): one JSON line per case,
{"name", "ok": sweepjob's verdict, "text": what the orchestrator gets}. For an accepted case
the text is what `report` would write; for a refused one, the case as plain JSON (NaN and
huge integers included, as a job without the helper could write them)."""

import json
import sys

import sweepjob as sj

ck = lambda **kw: dict({"epoch": 1, "metrics": {}}, **kw)  # noqa: E731
M = {"V1": 0.5}
CASES = {
    "minimal": {"metrics": M},
    "empty metrics": {"metrics": {}},
    "full": {"metrics": M, "n_params": 7, "n_samples_seen": 1e6, "total_flops": 4.6e17, "artifacts": {"c": "s3://b/x"}, "checkpoints": [ck(n_samples_seen=10, total_flops=1e9)]},
    "loss may be negative": {"metrics": {"V1": -2.5}},
    "n_params 1e7 as a float": {"metrics": M, "n_params": 1e7},
    "n_params 0": {"metrics": M, "n_params": 0},
    "n_params 1.5": {"metrics": M, "n_params": 1.5},
    "n_params huge": {"metrics": M, "n_params": 10**400},
    "n_samples_seen 0": {"metrics": M, "n_samples_seen": 0},
    "total_flops negative": {"metrics": M, "total_flops": -1},
    "metric NaN": {"metrics": {"V1": float("nan")}},
    "metric Infinity": {"metrics": {"V1": float("inf")}},
    "metric huge int": {"metrics": {"V1": 10**400}},
    "metric bool": {"metrics": {"V1": True}},
    "metric string": {"metrics": {"V1": "0.5"}},
    "metric null": {"metrics": {"V1": None}},
    "no metrics": {"n_params": 3},
    "unknown field": {"metrics": M, "nparams": 3},
    "1000 metrics": {"metrics": dict(M, **{"m%d" % i: 0 for i in range(999)})},
    "1001 metrics": {"metrics": dict(M, **{"m%d" % i: 0 for i in range(1000)})},
    "name of 200": {"metrics": dict(M, **{"n" * 200: 1})},
    "name of 201": {"metrics": dict(M, **{"n" * 201: 1})},
    "100 emoji name": {"metrics": dict(M, **{"\U0001f600" * 100: 1})},
    "101 emoji name": {"metrics": dict(M, **{"\U0001f600" * 101: 1})},
    "lone surrogate name": {"metrics": dict(M, **{"a\ud800": 1})},
    "epoch 0": {"metrics": M, "checkpoints": [ck(epoch=0)]},
    "epoch -1": {"metrics": M, "checkpoints": [ck(epoch=-1)]},
    "epoch 2.5": {"metrics": M, "checkpoints": [ck(epoch=2.5)]},
    "epoch 2^53-1": {"metrics": M, "checkpoints": [ck(epoch=2**53 - 1)]},
    "epoch 2^53": {"metrics": M, "checkpoints": [ck(epoch=2**53)]},
    "checkpoint without metrics": {"metrics": M, "checkpoints": [{"epoch": 1}]},
    "checkpoint unknown field": {"metrics": M, "checkpoints": [ck(step=3)]},
    "checkpoint flops 0": {"metrics": M, "checkpoints": [ck(total_flops=0)]},
    "10000 checkpoints": {"metrics": M, "checkpoints": [ck(epoch=i) for i in range(10000)]},
    "10001 checkpoints": {"metrics": M, "checkpoints": [ck(epoch=i) for i in range(10001)]},
    "1000 artifacts": {"metrics": M, "artifacts": {"a%d" % i: "u" for i in range(1000)}},
    "1001 artifacts": {"metrics": M, "artifacts": {"a%d" % i: "u" for i in range(1001)}},
    "artifact not a string": {"metrics": M, "artifacts": {"a": 1}},
    "over 1 MiB": {"metrics": M, "artifacts": {"a%d" % i: "x" * 1100 for i in range(960)}},
    "just under 1 MiB": {"metrics": M, "artifacts": {"a%d" % i: "x" * 1000 for i in range(1000)}},
    "not an object": [1, 2],
}

for name, case in CASES.items():
    try:
        text = sj.encode_result(sj.validate_result(case, required_metrics=["V1"]))
        ok = len(text) <= sj.MAX_RESULT_BYTES
        text = text.decode("utf-8", "surrogatepass")
    except sj.ResultError:
        ok, text = False, json.dumps(case)
    sys.stdout.write(json.dumps({"name": name, "ok": ok, "text": text}) + "\n")
