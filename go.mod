module github.com/llmtune/llmtune

go 1.26.0

require (
	github.com/nlpodyssey/spago v1.1.0
	github.com/peterh/liner v1.2.2
	github.com/stretchr/testify v1.11.1
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/google/flatbuffers v23.5.26+incompatible // indirect
	github.com/mattn/go-runewidth v0.0.3 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
