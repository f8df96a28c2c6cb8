"""Writes schedules.json: the learning-rate factors of HF transformers' schedules.

The three lr_lambda functions below are those of transformers/optimization.py
(get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
get_cosine_schedule_with_warmup with num_cycles=0.5), written out so that the script
needs neither torch nor transformers. trainer/schedule_test.go compares Schedule.Factor
with these values for step = 0..total.

Run from this directory: python3 gen_schedules.py
"""
import json
import math


def constant_lambda(current_step, *, num_warmup_steps):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1.0, num_warmup_steps))
    return 1.0


def linear_lambda(current_step, *, num_warmup_steps, num_training_steps):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))


def cosine_lambda(current_step, *, num_warmup_steps, num_training_steps, num_cycles=0.5):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


cases = []
for total, warmup in [(10, 0), (10, 3), (100, 20), (7, 7), (5, 8), (1, 0), (1, 1), (37, 1)]:
    # one step past the end too: the factor must not go negative
    steps = range(total + 2)
    cases.append({
        "total": total,
        "warmup": warmup,
        "constant": [constant_lambda(s, num_warmup_steps=warmup) for s in steps],
        "linear": [linear_lambda(s, num_warmup_steps=warmup, num_training_steps=total) for s in steps],
        "cosine": [cosine_lambda(s, num_warmup_steps=warmup, num_training_steps=total) for s in steps],
    })

with open("schedules.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(c) for c in cases) + "\n]\n")
