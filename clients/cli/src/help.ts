// The end of `signalbox --help`: the environment it reads and the exit codes scripts can test.

export const HELP_FOOTER = `
Environment:
  SIGNALBOX_URL        the gateway (default http://localhost:8080); --url overrides it
  SIGNALBOX_API_KEY    the caller key sent as "Authorization: Bearer …"; --api-key overrides it
  SIGNALBOX_TRACE_URL  a trace link template, e.g. http://jaeger:16686/trace/{trace_id}

Exit codes:
  0  ok
  1  the call failed (the gateway's error, its code and the field at fault are printed on stderr),
     or \`config check\` found the file invalid, or \`moderate\` flagged an input (gate on it:
     \`signalbox moderate "$TEXT" >/dev/null && publish\`), or \`batch create --wait\` saw the batch
     fail, expire or be cancelled, or \`vector-stores create|add --wait\` saw a file fail to be
     indexed, or \`mcp call\` ran a tool that reported an error, or
     \`entries reseal\` could not seal an entry again, or \`models check\` found a deployment that did
     not answer (\`signalbox models check >/dev/null || alert\` in cron), or \`exports flush\` left a
     usage export failing (its store refused what waits)
  2  bad usage: unknown command or flag, a bad value, a file that cannot be read

Examples:
  signalbox usage --since 7d --group-by team,deployment
  signalbox requests --status error --since 1h
  signalbox feedback give req_579cba1dmx8kg7ez2 --up --meta comment="spot on"
  signalbox feedback summary --by variant --route ab --since 7d
  signalbox route explain --model default --prompt "Hello"
  signalbox models check --timeout 5000
  signalbox chat --model default "Write a haiku about failover"
  signalbox chat --web "What changed in Node 24?"
  signalbox realtime realtime "Hello over a socket"
  signalbox image images "a red fox in the snow" -n 2 --size 1024x1024 -o renders/
  signalbox transcribe transcription meeting.mp3 --format srt > meeting.srt
  signalbox speak speech "The build is green." --voice coral -o green.mp3
  signalbox moderate "I will attack you" "Have a nice day"
  signalbox search "node 24 release notes" --max-results 5 --domain nodejs.org
  signalbox ocr invoice.pdf --pages 1-2 > invoice.md
  signalbox batch create requests.jsonl --endpoint /v1/chat/completions --wait
  signalbox vs create handbook --file leave.md --file travel.md --wait
  signalbox vs search vs_68f1… "how many days of leave" --max 3 --filter topic=hr
  signalbox response req_579cba1dmx8kg7ez2
  signalbox conversation conv_68f1… --json
  signalbox mcp servers --tools
  signalbox mcp tools
  signalbox mcp call math__add --args '{"a": 2, "b": 3}'
  signalbox prompts create support --instructions "You help {{customer}}." --label production
  signalbox prompts render support --var customer=Ada
  signalbox entries put provider groq --set type=openai-compatible --set base_url=https://api.groq.com/openai/v1 --api-key-env GROQ_API_KEY
  signalbox entries put guardrail mod -f mod.yaml --header-env authorization=MOD_AUTH
  signalbox entries reseal --dry-run
  signalbox exports flush archive
  signalbox audit --target key:search-indexer --since 7d
  signalbox keys create --name search-indexer --team search --role service --budget 10/month
  signalbox end-users block ana@example.com --team search
  signalbox config check config/default.yaml
`;
