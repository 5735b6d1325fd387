// Command gen expands the rule templates in ../src (kube-proxy-shaped
// iptables-restore input with {{chain}} / {{sep}} placeholders) into plain
// iptables-restore input, computing chain names with kube-proxy's hash
// (k/k pkg/proxy/iptables/proxier.go). ../gen.sh loads the result into a
// scratch network namespace and dumps it with the real iptables-save.
package main

import (
	"crypto/sha256"
	"encoding/base32"
	"os"
	"text/template"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:16]
}

func main() {
	funcs := template.FuncMap{
		// chain "KUBE-SVC-" "ns/name:port" "tcp"
		"chain": func(prefix, svcPort, proto string) string { return prefix + hash(svcPort+proto) },
		// sep "ns/name:port" "tcp" "10.0.0.1:80" (servicePortEndpointChainName)
		"sep": func(svcPort, proto, ep string) string { return "KUBE-SEP-" + hash(svcPort+proto+ep) },
	}
	t := template.Must(template.New("rules").Funcs(funcs).ParseFiles(os.Args[1]))
	if err := t.ExecuteTemplate(os.Stdout, t.Templates()[0].Name(), nil); err != nil {
		panic(err)
	}
}
