module github.com/llmtune/llmtune

go 1.26

require (
	github.com/nlpodyssey/spago v1.1.0 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
