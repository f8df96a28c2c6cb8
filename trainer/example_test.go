package trainer_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
)

// Example is the README's Go example, run on the tiny test model: load a Hugging Face
// GPT-2 directory and its tokenizer, apply LoRA, train with a recipe built in code, save
// the adapter in PEFT format, load it onto a fresh copy of the model.
func Example() {
	out, err := os.MkdirTemp("", "llmtune-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)

	model, err := transformer.Load("../testdata/tiny") // HF checkpoint dir
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.Load("../testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	ad, err := lora.Apply(model, lora.Config{Rank: 8, Alpha: 16, Targets: []string{"q", "v"}}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ad.Report())

	rec := trainer.DefaultRecipe() // or trainer.LoadRecipe("recipes/translate.yaml")
	rec.BaseModel, rec.OutputDir = "../testdata/tiny", out
	rec.Data.Train, rec.Data.ValSetSize = "../testdata/tiny/reverse.jsonl", 20
	rec.Data.Format, rec.Data.Template = dataset.FormatSourceTarget, "{source} = {target}"
	rec.Data.MaxSeqLen, rec.Data.Packing = 64, true
	rec.Train.MaxSteps, rec.Train.BatchSize, rec.Train.LearningRate = 4, 4, 1e-2
	res, err := trainer.Run(context.Background(), &rec, trainer.WithModel(model, tok, ad))
	if err != nil {
		log.Fatal(err)
	}
	first, last := res.Evals[0], res.Evals[len(res.Evals)-1]
	fmt.Printf("steps: %d, eval loss lower: %v\n", res.Steps, last.EvalLoss < first.EvalLoss)

	if err := ad.Save(filepath.Join(out, "my-adapter")); err != nil { // PEFT format
		log.Fatal(err)
	}
	fresh, err := transformer.Load("../testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := lora.Load(fresh, filepath.Join(out, "my-adapter")); err != nil {
		log.Fatal(err)
	}
	logits := fresh.Logits(tok.Encode("red cat = cat red"))
	fmt.Println(len(logits), len(logits[0]))
	// Output:
	// trainable params: 4,096 || all params: 145,152 || trainable%: 2.8219
	// steps: 4, eval loss lower: true
	// 9 512
}
