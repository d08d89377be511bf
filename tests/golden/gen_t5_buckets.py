"""Golden: transformers' T5 bidirectional relative-position buckets for relative positions -1023..1023."""
import json
import pathlib

import torch
import transformers
from transformers.models.t5.modeling_t5 import T5Attention

assert transformers.__version__ == "4.57.6", transformers.__version__
assert torch.__version__.startswith("2.13.0"), torch.__version__

OUT = pathlib.Path(__file__).parent / "data" / "t5" / "buckets.json"
rel = torch.arange(-1023, 1024)
cases = []
for buckets, distance in [(32, 128), (32, 64), (64, 256)]:
    b = T5Attention._relative_position_bucket(rel, bidirectional=True, num_buckets=buckets, max_distance=distance)
    cases.append({"num_buckets": buckets, "max_distance": distance, "first": -1023, "buckets": b.tolist()})
OUT.write_text(json.dumps(cases))
print(f"wrote {OUT}")
