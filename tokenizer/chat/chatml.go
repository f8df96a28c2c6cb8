package chat

// ChatML is the ChatML chat template as transformers' tokenizers and axolotl's "chatml"
// spell it: each turn "<|im_start|>{role}\n{content}<|im_end|>\n", and the generation
// prompt "<|im_start|>assistant\n". It is for a tokenizer without a template of its own;
// one without the two markers as tokens encodes them as plain text.
const ChatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
