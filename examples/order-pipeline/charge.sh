#!/bin/sh
# A stand-in payment gateway, run by the `exec` handler of stepline-worker: the order
# arrives as JSON on stdin; the test card 4000000000000002 is declined (exit 1), any
# other card is charged and a receipt is printed as JSON on stdout.
order=$(cat)
case "$order" in
  *'"card":"4000000000000002"'*)
    echo "card declined" >&2
    exit 1
    ;;
esac
echo "{\"chargeId\": \"ch_$(date +%s)\", \"status\": \"captured\"}"
