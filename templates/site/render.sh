#!/bin/sh
# Renders every pages/*.txt into /out/<name>.html with layout.html.
set -eu
mkdir -p /out
for page in pages/*.txt; do
  name=$(basename "$page" .txt)
  # One <p> per line; & and | are escaped for the sed replacement below.
  body=$(sed 's/.*/<p>&<\/p>/' "$page" | tr -d '\n' | sed 's/[&|]/\\&/g')
  sed -e "s|{{title}}|$name|g" -e "s|{{pages}}|$PAGES|g" -e "s|{{body}}|$body|" layout.html > "/out/$name.html"
done
echo "rendered $PAGES pages"
