package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

// runHTTPD serves the lab's backends (nm-nginx, nm-nginx-ovs): a real HTTP
// server in the node's network namespace, answering 200 on every path.
func runHTTPD(args []string) int {
	fs := flag.NewFlagSet("httpd", flag.ContinueOnError)
	listen := fs.String("listen", ":80", "address to listen on")
	name := fs.String("name", "backend", "name to answer with")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	node := os.Getenv("KPR_LAB_NODE")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s on %s\n", *name, node)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("httpd %s on %s listening on %s", *name, node, *listen)
	if err := srv.ListenAndServe(); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}
