// Package dataset turns data files into training batches: its Config (the data section
// of a recipe), the record formats (.txt paragraphs; .jsonl with text, prompt/completion
// or source/target rendered by a template), tokenization with the prompt masked from the
// loss, a held-out evaluation split by hashing (val_set_size), and the Loader: streaming,
// a bounded shuffle buffer, padding or packing (block-diagonal attention, positions
// restarting per example), and a resumable position (DataState).
//
// Everything is deterministic for a seed, and nothing holds a whole file: memory is the
// shuffle buffer, one batch and one line, whatever the file's size. A bad line is an error
// naming the file, the line and the field.
//
// It does not train, evaluate or generate; it knows a model only through the batches it
// builds (transformer.Batch) and a tokenizer through the Tokenizer interface. It imports no
// YAML package (the yaml tags on Config are for the recipe that embeds it).
//
// Conventions are those of Hugging Face and axolotl: every example ends with EOS, which
// stays in the loss; padding never counts; train_on_inputs false masks the prompt.
package dataset
