#!/bin/sh
# The example app: greets whoever is named on the command line.
name="${1:-world}"
echo "hello, ${name}! (greet ${GREET_VERSION:-dev})"
