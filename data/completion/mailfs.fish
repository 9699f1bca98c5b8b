# fish completion for mailfs(1): commands, their options, account names
# from the config file, and your mailfs mount points for umount and status.

function __mailfs_config
    set -l words (commandline -opc)
    for i in (seq 2 (count $words))
        switch $words[$i]
            case -c --config
                set -l next (math $i + 1)
                if test $next -le (count $words)
                    echo $words[$next]
                    return
                end
            case '--config=*'
                string replace -- --config= '' $words[$i]
                return
        end
    end
    set -l xdg $XDG_CONFIG_HOME
    string match -q '/*' -- "$xdg"; or set xdg $HOME/.config
    echo $xdg/mailfs/config
end

function __mailfs_accounts
    set -l config (__mailfs_config)
    sed -n 's/^[[:space:]]*\[account \([^]]*\)\][[:space:]]*$/\1/p' \
        (string replace -r '^~' $HOME -- $config) 2>/dev/null
end

function __mailfs_mounts
    awk -v uid=(id -u) '{
        for (i = 7; i < NF && $i != "-"; i++)
            ;
        if ($(i + 1) == "fuse.mailfs" &&
            ("," $(i + 3) ",") ~ (",user_id=" uid ","))
            print $5
    }' /proc/self/mountinfo 2>/dev/null | while read -l mp
        printf '%b\n' $mp
    end
end

set -l cmds mount umount unmount status sync verify login help
complete -c mailfs -f
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a mount -d 'Mount an account'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a umount -d 'Unmount a mailfs mount'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a status -d 'Show the state of mounts'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a sync -d 'Download what is not cached'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a verify -d 'Check the cached messages'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a login -d 'Sign an OAuth 2.0 account in'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -a help -d 'Show the help'
complete -c mailfs -n "not __fish_seen_subcommand_from $cmds" -s V -l version -d 'Show the version'
complete -c mailfs -s h -l help -d 'Show the help'

complete -c mailfs -n "__fish_seen_subcommand_from mount umount unmount sync verify login" -s c -l config -r -F -d 'Config file'
complete -c mailfs -n "__fish_seen_subcommand_from mount umount unmount sync verify login" -s a -l account -x -a '(__mailfs_accounts)' -d 'Account'
complete -c mailfs -n "__fish_seen_subcommand_from mount" -s f -l foreground -d 'Stay in the foreground'
complete -c mailfs -n "__fish_seen_subcommand_from mount" -s d -l debug -d 'Log debug lines'
complete -c mailfs -n "__fish_seen_subcommand_from mount" -s r -l read-only -d 'Refuse every change'
complete -c mailfs -n "__fish_seen_subcommand_from mount" -s o -l options -x -a 'allow_other allow_root nonempty default_permissions' -d 'FUSE mount options'
complete -c mailfs -n "__fish_seen_subcommand_from mount" -a '(__fish_complete_directories)'
complete -c mailfs -n "__fish_seen_subcommand_from umount unmount status" -a '(__mailfs_mounts)' -d 'mailfs mount'
complete -c mailfs -n "__fish_seen_subcommand_from sync" -l all -d 'Every account'
complete -c mailfs -n "__fish_seen_subcommand_from sync" -s n -l no-recurse -d 'Not the subfolders'
complete -c mailfs -n "__fish_seen_subcommand_from sync" -s q -l quiet -d 'Print only failures'
complete -c mailfs -n "__fish_seen_subcommand_from verify" -s q -l quiet -d 'Print only damage'
