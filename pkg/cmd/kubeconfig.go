package cmd

import "k8s.io/client-go/tools/clientcmd"

func clientcmdIsEmptyConfig(err error) bool { return clientcmd.IsEmptyConfig(err) }
