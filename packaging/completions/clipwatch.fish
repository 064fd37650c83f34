# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_clipwatch_global_optspecs
    string join \n config= log-format= v/verbose q/quiet h/help V/version
end

function __fish_clipwatch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_clipwatch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_clipwatch_using_subcommand
    set -l cmd (__fish_clipwatch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c clipwatch -n "__fish_clipwatch_needs_command" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_needs_command" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_needs_command" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -s V -l version -d 'Print version'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "run" -d 'Run the daemon in the foreground: work through queued jobs until stopped'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "once" -d 'One pass: check every feed once, finish every job not done yet, then exit (1 if any failed)'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "preview" -d 'Check the feeds and the drop folder as `once` would; print what would be submitted and skipped, recording and submitting nothing'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "init" -d 'Write a commented configuration with your paths, create its folders, and print the next commands'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "completions" -d 'Print a shell completion script (e.g. `clipwatch completions bash > /etc/bash_completion.d/clipwatch`)'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "man" -d 'Print the man page (roff): `clipwatch man | man -l -`'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "submit" -d 'Queue one video by URL or local file; --wait follows it to the end'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "status" -d 'Counts per state, API units used, active tasks'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "jobs" -d 'List jobs'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "show" -d 'One job: source, options, task id, history, files'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "retry" -d 'Queue failed jobs again (a job whose task succeeded is polled again, not resubmitted; an entry recorded as the same page as another job is refused)'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "export" -d 'Render a finished job\'s clips again with another preset\'s export options (one Clips Export task, no new analysis) into a subfolder named after the preset, and follow it to the end'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "forget" -d 'Drop a source from the seen set so it can be clipped again'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "feeds" -d 'Per feed: last check, last new entry, last error, next check, and notes (entries ignored, fields left out, a failing UULF playlist); `feeds add|remove|edit|import` change the config'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "notify" -d 'Notification sinks ([[notify]]): `notify test [NAME]` sends a test event'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "check" -d 'Validate the configuration and that output.dir can be written (exit 78 if not); without --offline also check the API key'
complete -c clipwatch -n "__fish_clipwatch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand run" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand run" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand run" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand run" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand run" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -l dry-run -d 'Only show what the pass would submit and skip; record and submit nothing (as `preview`)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -l json -d 'With --dry-run: machine-readable output'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand once" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -l json -d 'Machine-readable output (shape in README.md)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand preview" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l output -d 'Where clips are written [default: /srv/clips as root, else ~/clipwatch/clips]' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l drop -d 'The drop folder [default: /srv/clipwatch/inbox as root, else ~/clipwatch/inbox]' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l state -d 'The database and control socket [default: /var/lib/clipwatch as root, else $XDG_STATE_HOME/clipwatch]' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l api-key-file -d 'A file holding the API key (written as api_key_file; the file itself is yours to create)' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -l no-create -d 'Write the file only; leave the folders to someone else (a package\'s tmpfiles snippet)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand init" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand completions" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand completions" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand completions" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand completions" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand completions" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand man" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand man" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand man" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand man" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand man" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l preset -d 'Preset to use (default: "default")' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l name -d 'Title for the folder and the project name' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l wait -d 'Stay until the job is done or failed, showing progress'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -l force -d 'Clip again even if this video was clipped, failed or skipped before'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand submit" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -l json
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand status" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -l state -d 'Only jobs in this state (queued, uploading, submitting, processing, downloading, done, failed, skipped)' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -l feed -d 'Only jobs from this feed' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -l json
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand jobs" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -l json
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand show" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -l failed -d 'Every failed job'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand retry" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -l preset -d 'The preset whose export options (ratio, resolution, captions, …) to render with' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand export" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand forget" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand forget" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand forget" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand forget" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand forget" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -l json
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -f -a "add" -d 'Read a feed once, show what its first check would queue and skip, and add it to the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -f -a "remove" -d 'Remove the feed called NAME from the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -f -a "edit" -d 'Change settings of the feed called NAME (a value "" removes include/exclude)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -f -a "import" -d 'Add feeds from an OPML file, a YouTube Takeout subscriptions.csv, a NewPipe .json export, or a list of sources'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and not __fish_seen_subcommand_from add remove edit import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l name -d 'The feed\'s name (its folder and label); default: the feed\'s title' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l preset -d 'Preset for its videos' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l backfill -d 'On first sight, submit the newest N entries and mark the rest seen' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l interval -d 'Time between checks, e.g. 15m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l shorts -d 'Clip YouTube Shorts too (edit: --shorts=false to stop)' -r -f -a "true\t''
false\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l include -d 'Only titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l exclude -d 'Skip titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l delay -d 'Wait this long after publication, e.g. 30m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l use -d 'Which URL of an entry is the video: link (default) or enclosure' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from remove" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from remove" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l name -d 'A new name' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l preset -d 'Preset for its videos' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l backfill -d 'On first sight, submit the newest N entries and mark the rest seen' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l interval -d 'Time between checks, e.g. 15m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l shorts -d 'Clip YouTube Shorts too (edit: --shorts=false to stop)' -r -f -a "true\t''
false\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l include -d 'Only titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l exclude -d 'Skip titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l delay -d 'Wait this long after publication, e.g. 30m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l use -d 'Which URL of an entry is the video: link (default) or enclosure' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l preset -d 'Preset for its videos' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l backfill -d 'On first sight, submit the newest N entries and mark the rest seen' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l interval -d 'Time between checks, e.g. 15m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l shorts -d 'Clip YouTube Shorts too (edit: --shorts=false to stop)' -r -f -a "true\t''
false\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l include -d 'Only titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l exclude -d 'Skip titles matching this regex' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l delay -d 'Wait this long after publication, e.g. 30m' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l use -d 'Which URL of an entry is the video: link (default) or enclosure' -r
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -l dry-run -d 'Show what would be added; write nothing'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from help" -f -a "add" -d 'Read a feed once, show what its first check would queue and skip, and add it to the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove the feed called NAME from the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Change settings of the feed called NAME (a value "" removes include/exclude)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from help" -f -a "import" -d 'Add feeds from an OPML file, a YouTube Takeout subscriptions.csv, a NewPipe .json export, or a list of sources'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand feeds; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -f -a "test" -d 'Send a test event to the sink NAME (default: every sink) and print each result: HTTP status or exit code (exit 1 if any failed)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and not __fish_seen_subcommand_from test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -l json -d 'Print the results as JSON (name, kind, target, ok, result)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send a test event to the sink NAME (default: every sink) and print each result: HTTP status or exit code (exit 1 if any failed)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -l config -d 'Configuration file' -r -F
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -l offline
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -s v -l verbose -d 'More log detail (-v debug, -vv trace). RUST_LOG overrides'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand check" -s h -l help -d 'Print help'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "run" -d 'Run the daemon in the foreground: work through queued jobs until stopped'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "once" -d 'One pass: check every feed once, finish every job not done yet, then exit (1 if any failed)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "preview" -d 'Check the feeds and the drop folder as `once` would; print what would be submitted and skipped, recording and submitting nothing'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "init" -d 'Write a commented configuration with your paths, create its folders, and print the next commands'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "completions" -d 'Print a shell completion script (e.g. `clipwatch completions bash > /etc/bash_completion.d/clipwatch`)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "man" -d 'Print the man page (roff): `clipwatch man | man -l -`'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "submit" -d 'Queue one video by URL or local file; --wait follows it to the end'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "status" -d 'Counts per state, API units used, active tasks'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "jobs" -d 'List jobs'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "show" -d 'One job: source, options, task id, history, files'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "retry" -d 'Queue failed jobs again (a job whose task succeeded is polled again, not resubmitted; an entry recorded as the same page as another job is refused)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "export" -d 'Render a finished job\'s clips again with another preset\'s export options (one Clips Export task, no new analysis) into a subfolder named after the preset, and follow it to the end'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "forget" -d 'Drop a source from the seen set so it can be clipped again'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "feeds" -d 'Per feed: last check, last new entry, last error, next check, and notes (entries ignored, fields left out, a failing UULF playlist); `feeds add|remove|edit|import` change the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "notify" -d 'Notification sinks ([[notify]]): `notify test [NAME]` sends a test event'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "check" -d 'Validate the configuration and that output.dir can be written (exit 78 if not); without --offline also check the API key'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and not __fish_seen_subcommand_from run once preview init completions man submit status jobs show retry export forget feeds notify check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and __fish_seen_subcommand_from feeds" -f -a "add" -d 'Read a feed once, show what its first check would queue and skip, and add it to the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and __fish_seen_subcommand_from feeds" -f -a "remove" -d 'Remove the feed called NAME from the config'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and __fish_seen_subcommand_from feeds" -f -a "edit" -d 'Change settings of the feed called NAME (a value "" removes include/exclude)'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and __fish_seen_subcommand_from feeds" -f -a "import" -d 'Add feeds from an OPML file, a YouTube Takeout subscriptions.csv, a NewPipe .json export, or a list of sources'
complete -c clipwatch -n "__fish_clipwatch_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "test" -d 'Send a test event to the sink NAME (default: every sink) and print each result: HTTP status or exit code (exit 1 if any failed)'
