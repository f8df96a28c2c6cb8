// Package optim holds the optimisation of a run: its Config (the optimiser keys of a
// recipe's train section), AdamW with PyTorch's arithmetic, global gradient-norm clipping
// as torch.nn.utils.clip_grad_norm_, and the learning-rate schedules of Hugging Face
// transformers (constant, linear and cosine, each after a linear warmup).
//
// It works on spago parameters (nn.Param) and knows nothing of models, data or files:
// the trainer saves and restores the optimiser's state through AdamW.State and SetState.
// It imports no package of this module.
//
// References: Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
// arXiv:1711.05101; PyTorch's torch/optim/adamw.py (single-tensor path); transformers'
// optimization.py (get_*_schedule_with_warmup) and TrainingArguments.get_warmup_steps.
package optim
