# bash completion for mailfs(1): commands, their options, account names
# from the config file, and your mailfs mount points for umount and status.

# The config file: that of --config on the line, else the default.
_mailfs_config()
{
	local i xdg=$XDG_CONFIG_HOME
	for ((i = 2; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config)
			if [[ ${COMP_WORDS[i + 1]} == = ]]; then
				printf '%s\n' "${COMP_WORDS[i + 2]}"
			else
				printf '%s\n' "${COMP_WORDS[i + 1]}"
			fi
			return
			;;
		esac
	done
	[[ $xdg == /* ]] || xdg=$HOME/.config
	printf '%s\n' "$xdg/mailfs/config"
}

# The NAMEs of the [account NAME] groups of the config file.
_mailfs_accounts()
{
	local config
	config=$(_mailfs_config)
	config=${config/#\~/$HOME}
	sed -n 's/^[[:space:]]*\[account \([^]]*\)\][[:space:]]*$/\1/p' \
		"$config" 2>/dev/null
}

# The mount points of the caller's mailfs mounts, one per line.
_mailfs_mounts()
{
	local mp
	awk -v uid="$(id -u)" '{
		for (i = 7; i < NF && $i != "-"; i++)
			;
		if ($(i + 1) == "fuse.mailfs" &&
		    ("," $(i + 3) ",") ~ (",user_id=" uid ","))
			print $5
	}' /proc/self/mountinfo 2>/dev/null |
		while IFS= read -r mp; do
			printf '%b\n' "$mp" # mountinfo writes a space as \040
		done
}

_mailfs()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]} opts mp
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "mount umount status sync verify login help -h
			--help -V --version" -- "$cur"))
		return
	fi
	[[ $prev == = ]] && prev=${COMP_WORDS[COMP_CWORD - 2]}
	case $prev in
	-c | --config)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-a | --account)
		COMPREPLY=($(compgen -W "$(_mailfs_accounts)" -- "$cur"))
		return
		;;
	-o | --options)
		COMPREPLY=($(compgen -W "allow_other allow_root nonempty
			default_permissions" -- "$cur"))
		return
		;;
	esac
	case $cmd in
	mount)
		opts="-c --config -a --account -f --foreground -d --debug
			-r --read-only -o --options -h --help" ;;
	umount | unmount | login) opts="-c --config -a --account -h --help" ;;
	status) opts="-h --help" ;;
	sync)
		opts="-c --config -a --account --all -n --no-recurse -q --quiet
			-h --help" ;;
	verify) opts="-c --config -a --account -q --quiet -h --help" ;;
	*) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case $cmd in
	mount)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		;;
	umount | unmount | status)
		while IFS= read -r mp; do
			[[ $mp == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$mp")")
		done < <(_mailfs_mounts)
		;;
	esac
}
complete -F _mailfs mailfs
