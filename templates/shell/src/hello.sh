#!/bin/sh
# Greets whoever is named on the command line.
echo "hello, ${1:-world}!"
