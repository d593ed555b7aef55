module github.com/thetatree/thetatree/service

go 1.24

require (
	github.com/aws/aws-lambda-go v1.54.0
	github.com/prometheus/client_golang v1.23.2
	github.com/thetatree/thetatree/bindings/go v0.0.0
	go.yaml.in/yaml/v2 v2.4.2
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.66.1 // indirect
	github.com/prometheus/procfs v0.16.1 // indirect
	golang.org/x/sys v0.35.0 // indirect
	google.golang.org/protobuf v1.36.8 // indirect
)

// Inside the repository the service builds against the binding next to it.
replace github.com/thetatree/thetatree/bindings/go => ../bindings/go
